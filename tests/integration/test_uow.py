"""The unit of work on SQLite and PostgreSQL: commit, rollback, discard, duplicate keys, one compiled-policy cache."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import event, text

from dunflow.bootstrap import Workspace
from dunflow.clock import FixedClock
from dunflow.ledger.invoices import import_invoices
from dunflow.ledger.payments import add_payment
from dunflow.store.uow import DuplicateWrite, Store

INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
U-1,DU1,EUR,1000.00,,2026-09-01,2026-10-15,Alpha GmbH,business,DE,de,ap@alpha.example
U-2,DU1,EUR,500.00,,2026-09-01,2026-10-20,Alpha GmbH,business,DE,de,ap@alpha.example
"""


@pytest.fixture
def store(project_dir: Path, database_url: str, tmp_path: Path) -> Iterator[Store]:
    ws = Workspace.open(project_dir, database_url, FixedClock.on(date(2026, 11, 20)))
    csv = tmp_path / "uow.csv"
    csv.write_text(INVOICES, encoding="utf-8")
    with ws.store.writing() as uow:
        versions = uow.versions.register(ws.policies, uow.clock.now())
        import_invoices(uow, csv, ws.policies, versions, date(2026, 11, 20))
    yield Store(ws.engine, ws.clock)  # a fresh store: an empty compiled-policy cache
    ws.engine.dispose()


def open_amount(store: Store, number: str) -> Decimal:
    with store.reading() as uow:
        return Decimal(uow.invoices.by_number([number])[number].open_amount)


def test_a_unit_of_work_commits_when_its_block_ends(store: Store) -> None:
    with store.writing() as uow:
        add_payment(uow, "U-1", Decimal("100.00"), date(2026, 11, 18), actor="test")
    assert open_amount(store, "U-1") == Decimal("900.00")


def test_a_unit_of_work_rolls_back_everything_on_an_exception(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with store.writing() as uow:
            add_payment(uow, "U-1", Decimal("100.00"), date(2026, 11, 18), actor="test")
            raise RuntimeError("boom")
    assert open_amount(store, "U-1") == Decimal("1000.00")
    with store.reading() as uow:
        assert uow.payments.by_external_id(["manual:U-1:2026-11-18:100.00:1"]) == {}


def test_a_discarded_unit_of_work_writes_nothing(store: Store) -> None:
    with store.writing() as uow:
        add_payment(uow, "U-1", Decimal("100.00"), date(2026, 11, 18), actor="test")
        uow.discard()
    assert open_amount(store, "U-1") == Decimal("1000.00")


def test_a_taken_unique_key_surfaces_as_a_duplicate_write_and_changes_nothing(store: Store) -> None:
    with store.writing() as uow:
        add_payment(uow, "U-1", Decimal("100.00"), date(2026, 11, 18), reference="BANK-1", actor="test")
    with pytest.raises(DuplicateWrite):
        with store.writing() as uow:
            uow.payments.add(dict(external_id="BANK-1", kind="payment", booked_on=date(2026, 11, 19),
                                  amount=Decimal("5.00"), currency="EUR", reference="", payer_name="", payer_iban="",
                                  source="test", debtor_id=None, status="unmatched", matched_by="",
                                  unallocated=Decimal("5.00")), uow.clock.now())
    assert open_amount(store, "U-1") == Decimal("900.00")


def test_a_policy_version_is_read_and_compiled_once_per_store(store: Store) -> None:
    statements: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    for number, amount in (("U-1", "1000.00"), ("U-2", "100.00"), ("U-2", "50.00")):
        with store.writing() as uow:  # each payment pays or reduces an invoice under its policy version
            add_payment(uow, number, Decimal(amount), date(2026, 11, 18), actor="test")
    event.remove(store.engine, "before_cursor_execute", _count)
    reads = [s for s in statements if "FROM policy_versions" in s]
    assert len(reads) == 1, reads  # three units of work, one version: read once, compiled once
    with store.reading() as uow:
        assert uow.connection.execute(text("SELECT count(*) FROM payments")).scalar() == 3
