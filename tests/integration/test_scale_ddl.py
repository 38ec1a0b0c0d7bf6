"""The DDL of README "Running at scale" is rendered from the real schema and checked against it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from dunflow.cli.main import main
from dunflow.scaffold import init_project
from dunflow.store import scale
from tests.conftest import _postgres_schema_url


def test_every_table_is_split_by_debtor_or_a_reference_table() -> None:
    plan = scale.layout()
    assert set(scale.tables()) == set(plan.split) | set(plan.reference)
    for name in ("cases", "actions", "outbox"):
        assert plan.split[name] == "debtor_id"
    assert plan.split["debtors"] == "id"


def test_every_split_table_has_debtor_id_in_every_key_and_every_foreign_key_fits() -> None:
    plan, tables = scale.layout(), scale.tables()
    for name in scale.SPLIT:
        assert "debtor_id" in tables[name].c or name in scale.ADDED_KEY, name
        assert plan.primary_keys[name][0] == "debtor_id"
        assert all(columns[0] == "debtor_id" for columns in plan.unique_keys[name]), name
    for name, columns, referred, targets in plan.foreign_keys:
        assert len(columns) == len(targets)
        if referred in scale.SPLIT:  # between two split tables: the debtor on both sides, and a key it refers to
            assert columns[0] == targets[0] == "debtor_id", (name, columns, referred)
            keys = [plan.primary_keys[referred], *plan.unique_keys[referred]]
            assert targets in keys, (name, columns, referred, targets)
        else:
            assert referred in plan.reference or (referred == "debtors" and targets == ("id",)), (name, referred)
    for table in tables.values():  # nothing outside the split tables points into them
        if table.name not in scale.SPLIT:
            assert not {fk.referred_table.name for fk in table.foreign_key_constraints} & set(scale.SPLIT), table.name


def test_the_citus_ddl_distributes_every_split_table_with_the_debtors() -> None:
    statements = scale.citus_ddl()
    assert "SELECT create_distributed_table('debtors', 'id')" in statements
    for name in scale.SPLIT:
        assert f"SELECT create_distributed_table('{name}', 'debtor_id', colocate_with => 'debtors')" in statements
    for name in scale.REFERENCE:
        assert f"SELECT create_reference_table('{name}')" in statements
    # a reference table cannot point into a distributed one: such keys (a payment's debtor) are dropped first
    dropped = scale.unenforced()
    assert ("payments", "payments_debtor_id_fkey") in dropped
    for table in scale.tables().values():
        if table.name in scale.REFERENCE:
            for fk in table.foreign_key_constraints:
                if fk.referred_table.name not in scale.REFERENCE:
                    assert f"ALTER TABLE {table.name} DROP CONSTRAINT IF EXISTS {scale._fk_name(table, fk)}" in \
                        statements, (table.name, fk.referred_table.name)
    # the keys are made to fit before any table is distributed
    first = min(i for i, s in enumerate(statements) if "create_" in s)
    assert all("create_" not in s for s in statements[:first]) and any("ADD PRIMARY KEY" in s for s in statements[:first])


@pytest.fixture
def postgres() -> Iterator[str]:
    yield from _postgres_schema_url()


def test_the_partitioning_ddl_runs_on_a_real_dunflow_database_and_keeps_every_row(tmp_path: Path,
                                                                                   postgres: str) -> None:
    project = tmp_path / "demo"
    init_project(project)
    for args in (("import", "debtors", str(project / "debtors.csv")),
                 ("import", "invoices", str(project / "invoices.csv")), ("run", "--as-of", "2026-12-01")):
        result = CliRunner().invoke(main, ["--project", str(project), "--database", postgres, *args],
                                    catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
    engine = create_engine(postgres)
    try:
        with engine.connect() as connection:
            before = {name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar() for name in scale.SPLIT}
        assert before["actions"] and before["outbox"] and before["cases"]
        with engine.begin() as connection:
            for statement in scale.partition_ddl(4):
                connection.execute(text(statement))
        with engine.connect() as connection:
            after = {name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar() for name in scale.SPLIT}
            partitioned = set(connection.execute(text(
                "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()")).scalars())
            assert after == before
            assert partitioned == set(scale.SPLIT)
            # the foreign keys hold: an action pointing at another debtor's case is refused
            case_id, debtor_id = connection.execute(text("SELECT id, debtor_id FROM cases LIMIT 1")).one()
            with pytest.raises(IntegrityError):
                connection.execute(text(
                    "INSERT INTO actions (case_id, debtor_id, kind, step, channel, at, recorded_at, from_state, "
                    "to_state, rule, status, actor, idempotency_key) VALUES (:case, :debtor, 'x', '', '', "
                    "'2026-12-01', now(), '', '', '', 'done', 'test', 'x')"), {"case": case_id, "debtor": debtor_id + 10**6})
    finally:
        engine.dispose()
