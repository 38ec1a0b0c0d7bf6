"""Disputes, promises, holds and arrangements end to end, on SQLite and PostgreSQL, through the CLI."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.cli.main import main
from dunflow.clock import FixedClock
from dunflow.ledger.allocation import apply_amount
from dunflow.store.db import make_engine
from dunflow.store.uow import Store, UnitOfWork

INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
E-1,DB1,EUR,1000.00,,2026-09-01,2026-10-15,Alpha GmbH,business,DE,de,ap@alpha.example
E-2,DB1,EUR,500.00,,2026-09-10,2026-10-20,Alpha GmbH,business,DE,de,ap@alpha.example
E-3,DB2,EUR,300.00,,2026-10-01,2026-10-31,Beta AG,business,DE,en,ar@beta.example
"""


class Dunflow:
    """The CLI bound to one project and database; fails the test on an unexpected exit code."""

    def __init__(self, project: Path, database: str) -> None:
        self.base = ["--project", str(project), "--database", database]
        self.database = database

    def __call__(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*self.base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    def invoice(self, number: str) -> dict[str, Any]:
        return json.loads(self("show", "invoice", number, "--format", "json"))

    @contextmanager
    def writing(self) -> Iterator[UnitOfWork]:
        """A unit of work on the test database, as a service gets it (the clock stands on 2026-11-20)."""
        engine = make_engine(self.database)
        try:
            with Store(engine, FixedClock.on(date(2026, 11, 20))).writing() as uow:
                yield uow
        finally:
            engine.dispose()

    def outbox(self) -> list[tuple[str, str, str, list[str]]]:
        engine = create_engine(self.database)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT step, status, template, invoice_numbers FROM outbox ORDER BY id"))
            found = [(r[0], r[1], r[2], r[3] if isinstance(r[3], list) else json.loads(r[3])) for r in rows]
        engine.dispose()
        return found


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    cli = Dunflow(project_dir, database_url)
    csv = tmp_path / "events.csv"
    csv.write_text(INVOICES, encoding="utf-8")
    cli("import", "invoices", str(csv))
    return cli


def steps_sent(cli: Dunflow, number: str) -> list[str]:
    return [a["step"] for a in cli.invoice(number)["actions"] if a["kind"] in ("step", "escalation")]


def test_disputed_invoice_gets_no_notice_until_resolved(dunflow: Dunflow) -> None:
    dunflow("dispute", "open", "E-3", "--reason", "goods not delivered", "--date", "2026-11-01")
    dunflow("run", "--as-of", "2026-11-16")
    assert dunflow.invoice("E-3")["state"] == "disputed"
    assert steps_sent(dunflow, "E-3") == []
    dunflow("dispute", "resolve", "E-3", "--resume", "--note", "delivered late", "--date", "2026-11-20")
    shown = dunflow.invoice("E-3")
    assert shown["state"] == "new"
    assert "dispute resolved" in shown["actions"][-1]["rule"]
    dunflow("run", "--as-of", "2026-12-15")
    assert steps_sent(dunflow, "E-3")[-1] in ("reminder", "first-notice")


def test_dispute_resolved_by_cancelling_ends_dunning(dunflow: Dunflow) -> None:
    dunflow("dispute", "open", "E-3", "--reason", "wrong invoice", "--date", "2026-11-01")
    dunflow("dispute", "resolve", "E-3", "--cancel", "--date", "2026-11-05")
    assert dunflow.invoice("E-3")["state"] == "cancelled"
    dunflow("run", "--as-of", "2026-12-30")
    assert steps_sent(dunflow, "E-3") == []


def test_dispute_on_a_paid_invoice_is_refused(dunflow: Dunflow) -> None:
    dunflow("dispute", "resolve", "E-3", "--resume", code=1)
    out = dunflow("dispute", "open", "NOPE", "--reason", "x", code=1)
    assert "unknown invoice 'NOPE'" in out


def test_broken_promise_sends_the_step_the_policy_names(dunflow: Dunflow) -> None:
    dunflow("promise", "E-3", "--date", "2026-11-20", "--on", "2026-11-02")
    dunflow("run", "--as-of", "2026-11-16")
    assert dunflow.invoice("E-3")["state"] == "promised"
    dunflow("run", "--as-of", "2026-11-23")  # promised date + 3 days' grace
    shown = dunflow.invoice("E-3")
    assert shown["state"] == "final-notice"  # b2b-standard: on_broken: final-notice
    assert any("broken" in a["rule"] for a in shown["actions"])
    assert ("final-notice", "pending") in [(step, status) for step, status, _, _ in dunflow.outbox()]


def test_kept_promise_ends_in_paid(dunflow: Dunflow) -> None:
    dunflow("promise", "E-3", "--date", "2026-11-20", "--on", "2026-11-02")
    with dunflow.writing() as uow:
        invoice_id = uow.connection.execute(text("SELECT id FROM invoices WHERE number = 'E-3'")).scalar()
        apply_amount(uow, invoice_id, Decimal("300.00"), on=date(2026, 11, 18), why="bank transfer")
        status = uow.connection.execute(text("SELECT status FROM promises")).scalar()
    assert status == "kept"
    assert dunflow.invoice("E-3")["state"] == "paid"
    dunflow("run", "--as-of", "2026-12-30")
    assert steps_sent(dunflow, "E-3") == []


def test_a_promised_part_paid_in_time_is_kept_and_dunning_resumes_for_the_rest(dunflow: Dunflow) -> None:
    dunflow("promise", "E-3", "--date", "2026-11-20", "--amount", "100.00", "--on", "2026-11-02")
    dunflow("payment", "add", "E-3", "60.00", "--date", "2026-11-01")  # before the promise: does not count
    dunflow("payment", "add", "E-3", "100.00", "--date", "2026-11-19")
    dunflow("run", "--as-of", "2026-11-23")  # promised date + 3 days' grace
    shown = dunflow.invoice("E-3")
    assert shown["state"] not in ("promised", "paid") and shown["open_amount"] == "140.00"
    assert any(a["rule"].startswith("promise kept: 100.00 paid since the promise") for a in shown["actions"])


def test_a_promised_part_not_paid_since_the_promise_is_broken(dunflow: Dunflow) -> None:
    dunflow("payment", "add", "E-3", "100.00", "--date", "2026-11-01")  # before the promise: does not count
    dunflow("promise", "E-3", "--date", "2026-11-20", "--amount", "100.00", "--on", "2026-11-02")
    dunflow("run", "--as-of", "2026-11-23")
    assert any("broken" in a["rule"] for a in dunflow.invoice("E-3")["actions"])


def test_hold_pauses_every_invoice_of_the_debtor_until_its_date(dunflow: Dunflow) -> None:
    dunflow("hold", "DB1", "--until", "2026-11-30", "--reason", "special circumstances", "--date", "2026-10-10")
    dunflow("run", "--as-of", "2026-11-16")
    assert [dunflow.invoice(n)["state"] for n in ("E-1", "E-2")] == ["held", "held"]
    assert [o for o in dunflow.outbox() if "E-1" in o[3] or "E-2" in o[3]] == []
    dunflow("run", "--as-of", "2026-11-30")
    assert dunflow.invoice("E-1")["state"] not in ("held", "new")
    assert any("hold ended" in a["rule"] for a in dunflow.invoice("E-1")["actions"])
    grouped = [numbers for _, _, _, numbers in dunflow.outbox()]
    assert ["E-1", "E-2"] in grouped  # b2b-standard groups per debtor


def test_release_resumes_a_hold_without_end_date(dunflow: Dunflow) -> None:
    dunflow("hold", "DB1", "--reason", "insolvency check", "--date", "2026-10-10")
    assert dunflow.invoice("E-1")["next"]["why"].startswith("debtor on hold")
    dunflow("release", "DB1", "--date", "2026-11-02")
    assert dunflow.invoice("E-1")["state"] == "new"
    dunflow("release", "DB1", "--date", "2026-11-03", code=1)


def test_a_second_open_ended_hold_on_a_held_debtor_is_recorded_not_a_traceback(dunflow: Dunflow) -> None:
    dunflow("hold", "DB1", "--reason", "insolvency check", "--date", "2026-10-10")
    dunflow("hold", "DB1", "--reason", "insolvency filed", "--date", "2026-10-12")
    assert dunflow.invoice("E-1")["state"] == "held"
    dunflow("release", "DB1", "--date", "2026-11-02")
    assert dunflow.invoice("E-1")["state"] == "new"


def test_arrangement_reminds_a_missed_installment_then_defaults(dunflow: Dunflow) -> None:
    dunflow("arrangement", "create", "E-1", "E-2", "--installments", "3", "--first-due", "2026-11-02",
            "--every", "1m", "--date", "2026-11-01")
    plan = json.loads(dunflow("arrangement", "show", "1", "--format", "json"))
    assert [i["amount"] for i in plan["installments"]] == ["500.00", "500.00", "500.00"]
    assert dunflow.invoice("E-1")["state"] == "arrangement"
    dunflow("run", "--as-of", "2026-11-05")  # installment 1 due 11-02 + 3 days: missed
    reminders = [o for o in dunflow.outbox() if o[0] == "installment"]
    assert len(reminders) == 1 and reminders[0][2] == "common/installment-reminder"
    dunflow("run", "--as-of", "2026-12-07")  # installment 2 missed too: max_missed 2 → default
    plan = json.loads(dunflow("arrangement", "show", "1", "--format", "json"))
    assert plan["status"] == "defaulted"
    assert [dunflow.invoice(n)["state"] for n in ("E-1", "E-2")] == ["final-notice", "final-notice"]
    assert any(step == "final-notice" for step, _, _, _ in dunflow.outbox())


def test_arrangement_paid_in_full_completes(dunflow: Dunflow) -> None:
    dunflow("arrangement", "create", "E-3", "--installments", "2", "--first-due", "2026-11-10", "--date", "2026-11-01")
    with dunflow.writing() as uow:
        invoice_id = uow.connection.execute(text("SELECT id FROM invoices WHERE number = 'E-3'")).scalar()
        apply_amount(uow, invoice_id, Decimal("150.00"), on=date(2026, 11, 9), why="installment 1")
        apply_amount(uow, invoice_id, Decimal("150.00"), on=date(2026, 12, 9), why="installment 2")
    plan = json.loads(dunflow("arrangement", "show", "1", "--format", "json"))
    assert plan["status"] == "completed"
    assert [i["status"] for i in plan["installments"]] == ["paid", "paid"]
    assert dunflow.invoice("E-3")["state"] == "paid"


def test_graph_shows_pause_states_and_their_events(dunflow: Dunflow) -> None:
    drawn = dunflow("graph", "b2b-standard")
    for piece in ("disputed", "promised", "held", "arrangement", "break_promise", "miss_installment", "default",
                  "release", "resolve"):
        assert piece in drawn


def test_invoice_imported_for_a_held_debtor_is_held_too(dunflow: Dunflow, tmp_path: Path) -> None:
    dunflow("hold", "DB2", "--reason", "special circumstances")
    later = tmp_path / "later.csv"
    later.write_text(INVOICES.splitlines()[0] + "\nE-9,DB2,EUR,80.00,,2026-10-01,2026-10-31,,,,,\n", encoding="utf-8")
    dunflow("import", "invoices", str(later))
    assert dunflow.invoice("E-9")["state"] == "held"


def test_paying_one_invoice_keeps_the_grouped_notice_of_the_others(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-11-16")
    grouped = [o for o in dunflow.outbox() if o[3] == ["E-1", "E-2"]]
    assert grouped and {o[1] for o in grouped} == {"pending"}  # one message per channel
    for number, amount in (("E-1", "1000.00"), ("E-2", "500.00")):
        with dunflow.writing() as uow:
            invoice_id = uow.connection.execute(text(f"SELECT id FROM invoices WHERE number = '{number}'")).scalar()
            apply_amount(uow, invoice_id, Decimal(amount), on=date(2026, 11, 17), why="transfer")
        statuses = {o[1] for o in dunflow.outbox() if o[3] == ["E-1", "E-2"]}
        assert statuses == {"pending" if number == "E-1" else "cancelled"}


def test_the_audit_trail_names_who_acted(dunflow: Dunflow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNFLOW_ACTOR", "maria.schmidt")
    dunflow("dispute", "open", "E-3", "--reason", "wrong quantity", "--date", "2026-11-01")
    last = dunflow.invoice("E-3")["actions"][-1]
    assert (last["kind"], last["rule"], last["at"]) == ("dispute", "dispute opened: wrong quantity", "2026-11-01")
    assert last.get("actor") == "maria.schmidt"


def test_reminders_continue_when_the_first_invoice_of_an_arrangement_is_paid(dunflow: Dunflow) -> None:
    dunflow("arrangement", "create", "E-1", "E-2", "--installments", "3", "--first-due", "2026-11-02",
            "--date", "2026-11-01")
    with dunflow.writing() as uow:
        invoice_id = uow.connection.execute(text("SELECT id FROM invoices WHERE number = 'E-1'")).scalar()
        apply_amount(uow, invoice_id, Decimal("1000.00"), on=date(2026, 11, 2), why="installment 1 and 2")
    assert dunflow.invoice("E-1")["state"] == "paid"
    dunflow("run", "--as-of", "2027-01-06")  # installment 3 (2027-01-02) unpaid: reminder from E-2
    assert [o for o in dunflow.outbox() if o[0] == "installment" and o[3] == ["E-2"]]


def test_outbox_lists_queued_and_withdrawn_messages(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-11-16")
    queued = json.loads(dunflow("outbox", "--status", "pending", "--format", "json"))
    assert queued and all(m["status"] == "pending" for m in queued)
    dunflow("dispute", "open", "E-3", "--reason", "wrong invoice", "--date", "2026-11-17")
    withdrawn = json.loads(dunflow("outbox", "--status", "cancelled", "--format", "json"))
    assert [m["invoices"] for m in withdrawn] and all(m["invoices"] == ["E-3"] for m in withdrawn)
    assert all("withdrawn before delivery: dispute" in m["note"] for m in withdrawn)


def test_a_reversed_payment_takes_back_the_installments_it_paid(dunflow: Dunflow) -> None:
    dunflow("arrangement", "create", "E-3", "--installments", "2", "--first-due", "2026-11-10", "--date", "2026-11-01")
    dunflow("payments", "add", "E-3", "150.00", "--date", "2026-11-09")
    dunflow("payments", "add", "E-3", "150.00", "--date", "2026-12-09")
    assert json.loads(dunflow("arrangement", "show", "1", "--format", "json"))["status"] == "completed"
    assert dunflow.invoice("E-3")["state"] == "paid"
    second = json.loads(dunflow("payments", "list", "--format", "json"))[-1]
    dunflow("payments", "reverse", str(second["id"]), "--reason", "MD06 refund request", "--as-of", "2026-12-12")
    plan = json.loads(dunflow("arrangement", "show", "1", "--format", "json"))
    assert plan["status"] == "active"
    assert [(i["status"], i["paid"]) for i in plan["installments"]] == [("paid", "150.00"), ("open", "0.00")]
    shown = dunflow.invoice("E-3")
    assert (shown["state"], shown["open_amount"]) == ("arrangement", "150.00")
