"""At scale: `status` counts from an index alone; several workers share one due set; runs killed at random."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.bootstrap import Workspace
from dunflow.cli.main import main
from dunflow.reporting.report import status
from dunflow.scaffold import init_project

STATUS_COUNT = ("SELECT policy_version_id, state, count(*) FROM cases GROUP BY policy_version_id, state")


def test_status_counts_cases_per_policy_and_state_from_an_index_alone(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "demo"
    init_project(project)  # with the sample invoices
    ws = Workspace.open(project, database_url)
    for kind in ("debtors", "invoices"):
        result = CliRunner().invoke(main, ["--project", str(project), "--database", database_url, "import", kind,
                                           str(project / f"{kind}.csv")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with ws.store.reading() as uow:
        data = status(uow, ws.clock.today())
    engine = create_engine(database_url)
    with engine.connect() as connection:
        expected = {(name, state): count for name, state, count in connection.execute(text(
            "SELECT v.name, c.state, count(*) FROM cases c JOIN policy_versions v ON v.id = c.policy_version_id "
            "GROUP BY v.name, c.state"))}
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.execute(text("EXPLAIN QUERY PLAN " + STATUS_COUNT)))
            assert "COVERING INDEX ix_cases_version_state" in plan, plan
        else:
            connection.execute(text("SET enable_seqscan = off"))
            plan = " ".join(row[0] for row in connection.execute(text("EXPLAIN " + STATUS_COUNT)))
            assert "Index Only Scan using ix_cases_version_state" in plan, plan
    engine.dispose()
    assert {(r["policy"], r["state"]): r["cases"] for r in data["cases"]} == expected
    assert sum(expected.values()) > 0
