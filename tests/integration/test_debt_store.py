"""The debt repository on SQLite and PostgreSQL: a charge is booked once per source key, also by two writers at
once (insert … on conflict do nothing, no duplicate-key error), and the timing row keeps the first delivery."""
from __future__ import annotations

import threading
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from dunflow.bootstrap import Workspace
from dunflow.clock import FixedClock
from dunflow.ledger.invoices import import_invoices
from dunflow.store.uow import Store

INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
B-1,DB1,EUR,1000.00,,2026-01-01,2026-02-01,Alpha GmbH,business,DE,de,ap@alpha.example
"""
NOW = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)


@pytest.fixture
def store(project_dir: Path, database_url: str, tmp_path: Path) -> Iterator[Store]:
    ws = Workspace.open(project_dir, database_url, FixedClock.on(date(2026, 3, 1)))
    csv = tmp_path / "debt.csv"
    csv.write_text(INVOICES, encoding="utf-8")
    with ws.store.writing() as uow:
        versions = uow.versions.register(ws.policies, uow.clock.now())
        import_invoices(uow, csv, ws.policies, versions, date(2026, 3, 1))
    yield ws.store
    ws.engine.dispose()


def invoice_id(store: Store) -> int:
    with store.reading() as uow:
        return int(uow.invoices.by_number(["B-1"])["B-1"].id)


def book(store: Store, invoice: int) -> int | None:
    with store.writing() as uow:
        return uow.debts.book(invoice, "fee", "first-notice", Decimal("2.50"), "EUR", date(2026, 3, 1),
                              {"explanation": "fixed"}, f"fee:{invoice}:first-notice", NOW)


def test_a_charge_is_booked_once_per_source_key(store: Store) -> None:
    invoice = invoice_id(store)
    assert book(store, invoice) is not None
    assert book(store, invoice) is None
    with store.reading() as uow:
        lines = uow.debts.lines_of([invoice])[invoice]
    assert [(row.kind, row.amount, paid) for row, paid in lines] == [("fee", Decimal("2.50"), Decimal(0))]


def test_two_writers_booking_the_same_charge_book_it_once(store: Store) -> None:
    invoice = invoice_id(store)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            results.append(book(store, invoice))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and sorted(results, key=lambda r: r is None) [1:] == [None]
    with store.reading() as uow:
        assert len(uow.debts.lines_of([invoice])[invoice]) == 1


def test_the_timing_row_keeps_the_first_notice_and_the_first_letter(store: Store) -> None:
    invoice = invoice_id(store)
    with store.writing() as uow:
        uow.debts.note_delivery(invoice, date(2026, 2, 20), letter=False)
        uow.debts.note_delivery(invoice, date(2026, 2, 27), letter=True)
        uow.debts.note_delivery(invoice, date(2026, 3, 6), letter=True)
    with store.reading() as uow:
        row = uow.debts.facts([invoice])[invoice]
    assert (row.first_notice_on, row.letter_on) == (date(2026, 2, 20), date(2026, 2, 27))



def test_facts_and_lines_of_many_invoices_are_read_in_chunks_with_nothing_lost(
        project_dir: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claimed batch may ask for more invoices than a driver takes parameters: the reads go in chunks (here of
    two), and every invoice comes back with all its lines, oldest first, as one read gives them."""
    import dunflow.store.debts as debts_module
    from dunflow.store.ledger import chunks

    ws = Workspace.open(project_dir, database_url, FixedClock.on(date(2026, 3, 1)))
    csv = tmp_path / "five.csv"
    csv.write_text(INVOICES.splitlines()[0] + "\n" + "\n".join(
        f"C-{n},DC{n},EUR,{100 + n}.00,,2026-01-01,2026-02-01,Debtor {n},business,DE,de,d{n}@x.example"
        for n in range(5)) + "\n", encoding="utf-8")
    with ws.store.writing() as uow:
        versions = uow.versions.register(ws.policies, uow.clock.now())
        import_invoices(uow, csv, ws.policies, versions, date(2026, 3, 1))
        ids = sorted(int(row.id) for row in uow.invoices.by_number([f"C-{n}" for n in range(5)]).values())
        for n, invoice in enumerate(ids):
            for day in range(1, n + 2):
                uow.debts.book(invoice, "fee", f"s{day}", Decimal("1.00"), "EUR", date(2026, 3, day), {},
                               f"fee:{invoice}:s{day}", NOW)
    with ws.store.reading() as uow:
        whole = (uow.debts.facts(ids), uow.debts.lines_of(ids))
    monkeypatch.setattr(debts_module, "chunks", lambda items: chunks(items, 2))
    with ws.store.reading() as uow:
        chunked = (uow.debts.facts(ids), uow.debts.lines_of(ids))
    ws.engine.dispose()
    assert sorted(chunked[0]) == ids and chunked[0] == whole[0]
    assert chunked[1] == whole[1] and [len(chunked[1][i]) for i in ids] == [1, 2, 3, 4, 5]
    assert all([line.booked_on for line, _ in chunked[1][i]] == sorted(line.booked_on for line, _ in chunked[1][i])
               for i in ids)
