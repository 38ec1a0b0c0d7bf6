"""The ladder follows what the debtor actually received (issue 13, points 1-4), on SQLite and PostgreSQL.

Each test drives the CLI day by day (`run --as-of D`, `send --as-of D`) over the shipped policies and checks
what was delivered, what was withdrawn and why, and where each invoice stands.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.cli.main import main

HEADER = ("number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,"
          "debtor_country,debtor_language,debtor_email")


class Dunflow:
    """The CLI bound to one project and database; fails the test on an unexpected exit code."""

    def __init__(self, project: Path, database: str, files: Path) -> None:
        self.base = ["--project", str(project), "--database", database]
        self.database, self.files = database, files

    def __call__(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*self.base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    def invoices(self, *rows: str) -> None:
        path = self.files / f"invoices-{len(list(self.files.glob('invoices-*')))}.csv"
        path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        self("import", "invoices", str(path))

    def day(self, on: str, send: bool = True) -> None:
        self("run", "--as-of", on)
        if send:
            self("send", "--as-of", on)

    def days(self, first: str, last: str, send: bool = True) -> None:
        """Daily runs (and sends) from `first` to `last`, weekends included: the runner defers those itself."""
        from datetime import date, timedelta

        on, end = date.fromisoformat(first), date.fromisoformat(last)
        while on <= end:
            self.day(str(on), send)
            on += timedelta(days=1)

    def invoice(self, number: str) -> dict[str, Any]:
        return json.loads(self("show", "invoice", number, "--format", "json"))

    def query(self, sql: str) -> list[Any]:
        engine = create_engine(self.database)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()

    def messages(self) -> list[tuple[str, str, str, list[str], str]]:
        """(created_on, step, status, invoice numbers, note) of every outbox message, oldest first."""
        rows = self.query("SELECT created_on, step, status, invoice_numbers, last_error, channel FROM outbox "
                          "ORDER BY id")
        return [(str(r[0]), r[1], r[2], r[3] if isinstance(r[3], list) else json.loads(r[3]), r[4]) for r in rows]

    def delivered(self) -> list[tuple[str, str, list[str]]]:
        """(created_on, step, invoices) of the delivered messages, one per notice (channels folded)."""
        seen: list[tuple[str, str, list[str]]] = []
        for on, step, status, numbers, _ in self.messages():
            if status == "sent" and (on, step, numbers) not in seen:
                seen.append((on, step, numbers))
        return seen


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    return Dunflow(project_dir, database_url, tmp_path)


# --- 1. escalations are delivered ---------------------------------------------------------------------


def test_the_hand_over_letter_is_delivered_not_withdrawn(dunflow: Dunflow) -> None:
    dunflow.invoices("H-1,HB1,EUR,800.00,,2026-08-01,2026-09-01,Hansa GmbH,business,DE,de,ap@hansa.example")
    for on in ("2026-09-15", "2026-09-29", "2026-10-14"):
        dunflow.day(on)
    assert dunflow.invoice("H-1")["state"] == "escalated"
    handover = [m for m in dunflow.messages() if m[1] == "handover"]
    assert handover and all(status == "sent" for _, _, status, _, _ in handover), handover
    assert [m for m in dunflow.messages() if m[2] == "cancelled"] == []


def test_a_payment_before_sending_withdraws_the_hand_over(dunflow: Dunflow) -> None:
    dunflow.invoices("H-2,HB2,EUR,800.00,,2026-08-01,2026-09-01,Hansa GmbH,business,DE,de,ap@hansa.example")
    for on in ("2026-09-15", "2026-09-29"):
        dunflow.day(on)
    dunflow.day("2026-10-14", send=False)
    due = dunflow.invoice("H-2")["total_due"]  # the principal and the charges booked so far (b2b-standard charges)
    dunflow("payment", "add", "H-2", due, "--date", "2026-10-14")
    dunflow("send", "--as-of", "2026-10-14")
    handover = [m for m in dunflow.messages() if m[1] == "handover"]
    assert handover and all(status == "cancelled" for _, _, status, _, _ in handover), handover


# --- 2. a step counts when the debtor received it ------------------------------------------------------

DE_BUSINESS = "S-1,SB1,EUR,1000.00,,2026-09-01,2026-10-01,Sieben GmbH,business,DE,de,ap@sieben.example"


def fates(cli: Dunflow, number: str) -> list[tuple[str, str, str, str]]:
    """(at, kind, step, status) of each step of the timeline that concerns a notice, channel by channel."""
    return [(a["at"], a["kind"], a["step"], a["status"]) for a in cli.invoice(number)["actions"]
            if a["kind"] in ("step", "lifted", "escalation", "withdrawn")]


def test_a_required_notice_withdrawn_by_a_dispute_is_sent_again_when_dunning_resumes(dunflow: Dunflow) -> None:
    dunflow.invoices(DE_BUSINESS)
    dunflow.day("2026-10-08")  # the reminder, pay by 10-15
    dunflow.day("2026-10-16", send=False)  # the first notice is queued...
    dunflow("dispute", "open", "S-1", "--reason", "goods not delivered", "--date", "2026-10-16")
    dunflow("send", "--as-of", "2026-10-16")  # ... and withdrawn
    assert dunflow.invoice("S-1")["state"] == "disputed"
    dunflow("dispute", "resolve", "S-1", "--resume", "--date", "2026-10-20")
    dunflow.days("2026-10-20", "2026-11-30")
    delivered = [step for _, step, _ in dunflow.delivered()]
    assert delivered == ["reminder", "first-notice", "final-notice", "handover"]
    first_notices = [m for m in dunflow.messages() if m[1] == "first-notice"]
    assert [m[2] for m in first_notices] == ["cancelled", "cancelled", "sent", "sent"]  # e-mail + letter, twice
    timeline = fates(dunflow, "S-1")
    assert ("2026-10-16", "step", "first-notice", "withdrawn") in timeline
    assert any(kind == "withdrawn" and step == "first-notice" for _, kind, step, _ in timeline)
    assert ("2026-10-08", "step", "reminder", "delivered") in timeline


def test_while_delivery_is_broken_the_invoice_does_not_climb_the_ladder(dunflow: Dunflow) -> None:
    dunflow.invoices(DE_BUSINESS)
    dunflow.days("2026-10-08", "2026-11-20", send=False)
    assert [(m[1], m[2]) for m in dunflow.messages()] == [("reminder", "pending")]
    shown = dunflow.invoice("S-1")
    assert shown["state"] == "reminder"
    assert [a["fate"] for a in shown["actions"] if a["kind"] == "step"] == ["queued, not delivered yet"]
    summary = json.loads(dunflow("run", "--as-of", "2026-11-23", "--format", "json"))
    assert summary["waiting"] == 1 and summary["messages"] == 0
    dunflow("send", "--as-of", "2026-11-23")
    assert dunflow.delivered() == [("2026-10-08", "reminder", ["S-1"])]  # one stale notice, not three


def test_the_next_step_is_timed_from_the_day_the_notice_was_delivered(dunflow: Dunflow) -> None:
    dunflow.invoices("S-2,SB2,EUR,1000.00,,2026-09-01,2026-10-01,Sieben GmbH,business,DE,de,ap@sieben.example")
    dunflow.day("2026-10-08", send=False)
    dunflow("send", "--as-of", "2026-10-12")  # four days late
    shown = dunflow.invoice("S-2")
    assert [a["fate"] for a in shown["actions"] if a["kind"] == "step"] == ["delivered on 2026-10-12"]
    # first-notice: 14 days after due = 10-15, but the reminder arrived on 10-12 asking for payment by 10-19
    assert (shown["next"]["step"], shown["next"]["at"]) == ("first-notice", "2026-10-20")


# --- 3. the next notice never comes before the deadline the previous one named -------------------------


def test_a_late_imported_invoice_gets_each_notice_only_after_the_previous_deadline(dunflow: Dunflow) -> None:
    dunflow.invoices("L-1,LB1,EUR,900.00,,2026-08-01,2026-09-01,Lange GmbH,business,DE,de,ap@lange.example")
    dunflow.days("2026-10-12", "2026-11-20")
    assert [(on, step) for on, step, _ in dunflow.delivered()] == [
        ("2026-10-12", "first-notice"),  # catch-up: the reminder is skipped, the required first notice is not
        ("2026-10-23", "final-notice"),  # first notice: pay by 10-22 (10 days)
        ("2026-11-03", "handover"),  # final notice (10-23): pay by 11-02
    ]
    subject = dunflow.query("SELECT subject FROM outbox WHERE step = 'first-notice' AND channel = 'email'")[0][0]
    assert subject.endswith("Zahlungsfrist 22. Oktober 2026"), subject


def test_a_dispute_resolved_with_continue_does_not_shorten_the_time_to_pay(dunflow: Dunflow) -> None:
    dunflow("import", "debtors", str(_key_account(dunflow)))
    dunflow.invoices("K-1,KA1,EUR,900.00,,2026-09-01,2026-10-01,Kunde AG,business,DE,de,ap@kunde.example")
    assert dunflow.invoice("K-1")["policy"] == "key-accounts"
    dunflow.day("2026-10-12")  # key-accounts: reminder 10 days after due, pay within 10 days
    dunflow("dispute", "open", "K-1", "--reason", "wrong quantity", "--date", "2026-10-13")
    dunflow("dispute", "resolve", "K-1", "--resume", "--date", "2026-10-14")  # key-accounts: on_resolve continue
    assert dunflow.invoice("K-1")["next"]["at"] >= "2026-10-23"  # the reminder asked for payment by 10-22


def _key_account(cli: Dunflow) -> Path:
    path = cli.files / "key-debtor.csv"
    path.write_text("code,name,type,country,language,email,tags\nKA1,Kunde AG,business,DE,de,ap@kunde.example,"
                    "key-account\n", encoding="utf-8")
    return path


# --- 4. grouping: one notice per level, never the same level twice --------------------------------------

def row(number: str, due: str, currency: str = "EUR", amount: str = "500.00", debtor: str = "GB1") -> str:
    return f"{number},{debtor},{currency},{amount},,2026-08-01,{due},Gruppe GmbH,business,DE,de,ap@gruppe.example"


def test_a_debtor_gets_each_level_once_and_every_listed_invoice_moves_with_it(dunflow: Dunflow) -> None:
    dunflow.invoices(row("A", "2026-11-02"), row("B", "2026-11-12"))
    dunflow.days("2026-10-26", "2027-01-08")
    assert dunflow.delivered() == [
        ("2026-10-30", "courtesy", ["A"]),
        ("2026-11-09", "reminder", ["A"]),  # overdue invoices only: B is not due until 11-12...
        ("2026-11-09", "courtesy", ["B"]),  # ... and its courtesy note lists no overdue invoice
        ("2026-11-17", "first-notice", ["A", "B"]),  # after the reminder's deadline (11-16); B moves up with A
        ("2026-11-30", "final-notice", ["A", "B"]),
        ("2026-12-14", "handover", ["A"]),
        ("2026-12-24", "handover", ["B"]),  # 42 days after its due date
    ]
    b = [(a["kind"], a["step"], a["status"]) for a in dunflow.invoice("B")["actions"] if a["channel"] == "email"]
    assert ("lifted", "first-notice", "delivered") in b and ("lifted", "final-notice", "delivered") in b


def test_three_invoices_due_levels_two_two_one_end_as_one_level_two_notice_per_currency(dunflow: Dunflow) -> None:
    dunflow.invoices(row("X1", "2026-09-01"), row("X2", "2026-09-03"), row("X3", "2026-10-05"),
                     row("X4", "2026-09-01", "GBP"), row("X5", "2026-10-09", "GBP"))
    dunflow.day("2026-10-12")
    assert sorted((step, numbers) for _, step, numbers in dunflow.delivered()) == [
        ("first-notice", ["X1", "X2", "X3"]), ("first-notice", ["X4", "X5"])]
    for number in ("X1", "X2", "X3", "X4", "X5"):
        shown = dunflow.invoice(number)
        assert shown["state"] == "first-notice"
        assert {a["step"] for a in shown["actions"] if a["kind"] in ("step", "lifted")} == {"first-notice"}
    x3 = [a for a in dunflow.invoice("X3")["actions"] if a["kind"] == "step"]
    assert x3 and all("sent as first-notice" in a["rule"] and "own step: reminder" in a["rule"] for a in x3)


def test_when_the_invoice_due_the_notice_is_paid_before_sending_the_lifted_one_gets_no_notice(
        dunflow: Dunflow) -> None:
    dunflow.invoices(row("P1", "2026-10-01"), row("P2", "2026-10-20"), row("P3", "2026-10-01", "GBP"))
    dunflow.day("2026-10-22", send=False)
    assert dunflow.invoice("P2")["state"] == "first-notice"  # lifted onto P1's first notice
    dunflow("payment", "add", "P1", "500.00", "--date", "2026-10-22")
    dunflow("send", "--as-of", "2026-10-22")
    eur = [m for m in dunflow.messages() if "P2" in m[3]]
    assert eur and all(status == "cancelled" and "P2 is due no notice of this step yet" in note
                       for _, _, status, _, note in eur), eur
    assert [(step, numbers) for _, step, numbers in dunflow.delivered()] == [("first-notice", ["P3"])]
    p2 = dunflow.invoice("P2")
    assert p2["state"] == "new" and p2["next"]["step"] == "reminder" and p2["next"]["at"] == "2026-10-27"
    dunflow.days("2026-10-23", "2026-10-27")
    assert dunflow.delivered()[-1] == ("2026-10-27", "reminder", ["P2"])


def test_a_partial_payment_between_run_and_send_keeps_the_grouped_notice_with_the_rest(dunflow: Dunflow) -> None:
    dunflow.invoices(row("Q1", "2026-10-01"), row("Q2", "2026-10-01"))
    dunflow.day("2026-10-15", send=False)
    dunflow("payment", "add", "Q1", "500.00", "--date", "2026-10-15")
    dunflow("payment", "add", "Q2", "200.00", "--date", "2026-10-15")
    dunflow("send", "--as-of", "2026-10-15")
    assert [(step, numbers) for _, step, numbers in dunflow.delivered()] == [("first-notice", ["Q2"])]
    body = dunflow.query("SELECT body FROM outbox WHERE status = 'sent' AND channel = 'email'")[0][0]
    assert "300,00" in body and "500,00" not in body


def test_editing_a_policy_file_does_not_split_a_debtors_notice(dunflow: Dunflow, project_dir: Path) -> None:
    dunflow.invoices(row("V1", "2026-10-01"))
    policy = project_dir / "policies" / "b2b-standard.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "# reviewed by AR\n", encoding="utf-8")
    dunflow.invoices(row("V2", "2026-10-01"))
    assert (dunflow.invoice("V1")["policy_version"], dunflow.invoice("V2")["policy_version"]) == (1, 2)
    dunflow.day("2026-10-08")
    assert [(step, numbers) for _, step, numbers in dunflow.delivered()] == [("reminder", ["V1", "V2"])]
