"""The debt sub-ledger end to end through the CLI, on SQLite and PostgreSQL: charges are booked when a step's
notice is delivered (once, however often runs and sends repeat), shown by `show invoice`, paid in the policy's
order (costs, interest, principal) and re-opened in reverse order when a payment is reversed.

Invoice L-1: 1000.00 EUR, business in DE, due 2026-01-10. Policy: first notice 14 days after due (2026-01-24, a Saturday: sent Monday 2026-01-26) with a 2.50 fee
and the 40 EUR compensation; DE interest from the due date (base rate 1.27 % + 9 pp = 10.27 %)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.integration.test_payments import Dunflow

HEADER = ("number,debtor_code,currency,amount,open_amount,issue_date,due_date,"
          "debtor_name,debtor_type,debtor_country,debtor_language,debtor_email")
INVOICES = [
    "L-1,DL1,EUR,1000.00,1000.00,2025-12-10,2026-01-10,Alpha GmbH,business,DE,en,ap@alpha.example",
    "L-2,DL2,EUR,300.00,300.00,2025-12-10,2026-01-10,Beta Verbraucher,consumer,DE,en,b@beta.example",
]
POLICY = """\
apiVersion: dunflow/v1
kind: Policy
metadata: {name: b2b-standard}
applies_to: {priority: 10, match: {}}
settings: {timezone: Europe/Berlin, calendar: DE, language: en, minimum_open_amount: "1.00"}
charges:
  interest: {law: DE}
  interest_from: due_date
  compensation: {law: DE}
acknowledge:
  - {rule: de-charges-before-default, reason: "the invoices state a calendar due date"}
  - {rule: de-fee-on-default-notice, reason: "test of the fee booking"}
steps:
  - id: first-notice
    after: {days: 14, from: due_date}
    channels: [email]
    template: b2b/first-notice
    fee: "2.50"
    charge: [compensation]
    legal: default_notice
  - id: final-notice
    after: {days: 28, from: due_date}
    channels: [email]
    template: b2b/final-notice
    legal: final_notice
escalation:
  id: handover
  after: {days: 42, from: due_date}
  to: collection_agency
  agency: Inkasso Nord GmbH
  channels: [letter]
  template: b2b/handover
"""


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    for old in (project_dir / "policies").glob("*.yaml"):
        old.unlink()
    (project_dir / "policies" / "charges.yaml").write_text(POLICY, encoding="utf-8")
    cli = Dunflow(project_dir, database_url, tmp_path)
    cli("import", "invoices", cli.file("invoices.csv", "\n".join((HEADER, *INVOICES)) + "\n"))
    return cli


def charges_of(data: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    return [(c["kind"], c["amount"], c["open"], c["booked"]) for c in data["charges"]]


def test_a_delivered_step_books_its_fee_and_compensation_once(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    dunflow("run", "--as-of", "2026-01-26", "--send")  # a repeated run books nothing twice
    data = dunflow.invoice("L-1", "2026-01-26")
    # interest 2026-01-11..2026-01-26: 16 days × 1000.00 × 10.27 % / 365 = 4.501918 → 4.50
    assert charges_of(data) == [("fee", "2.50", "2.50", True), ("compensation", "40.00", "40.00", True),
                                ("interest", "4.50", "4.50", False)]
    assert (data["principal"], data["paid"], data["open_principal"], data["open_amount"]) == (
        "1000.00", "0.00", "1000.00", "1000.00")
    assert data["total_due"] == "1047.00"


def test_a_consumer_owes_no_compensation_and_the_audit_trail_says_why(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    data = dunflow.invoice("L-2", "2026-01-26")
    assert [c["kind"] for c in data["charges"]] == ["fee", "interest"]
    assert any("compensation not charged" in reason for reason in data["charges_not_booked"])
    assert any(a["kind"] == "charge_skipped" for a in data["actions"])


def test_a_partial_payment_pays_costs_then_interest_then_principal(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    dunflow("payments", "add", "L-1", "100.00", "--date", "2026-01-31")
    data = dunflow.invoice("L-1", "2026-01-31")
    # interest booked to the payment day: 21 days → 5.908767 → 5.91; 100 - 2.50 - 40.00 - 5.91 = 51.59 principal
    assert charges_of(data) == [("fee", "2.50", "0.00", True), ("compensation", "40.00", "0.00", True),
                                ("interest", "5.91", "0.00", True)]
    assert (data["open_principal"], data["open_amount"], data["total_due"]) == ("948.41", "948.41", "948.41")


def test_the_invoice_is_paid_only_when_the_total_due_is_paid(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    dunflow("payments", "add", "L-1", "1000.00", "--date", "2026-01-31")
    assert dunflow.invoice("L-1", "2026-01-31")["state"] != "paid"
    dunflow("payments", "add", "L-1", "48.41", "--date", "2026-01-31")
    data = dunflow.invoice("L-1", "2026-01-31")
    assert (data["state"], data["total_due"]) == ("paid", "0.00")


def test_a_payment_of_exactly_the_total_due_matches_the_invoice_and_pays_it_through_the_debt(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    # no invoice number in the text: 1000.00 principal + 2.50 fee + 40.00 compensation + 5.91 interest to the 31st
    bank = dunflow.file("bank.csv", "id,date,amount,currency,reference,payer_name\n"
                        "BK-T1,2026-01-31,1048.41,EUR,Thank you,Someone Else\n")
    out = json.loads(dunflow("import", "payments", bank, "--format", "json"))
    assert out["payments"][0]["status"] == "matched" and out["payments"][0]["matched_by"] == "total due", out
    data = dunflow.invoice("L-1", "2026-01-31")
    assert (data["state"], data["total_due"], data["open_principal"]) == ("paid", "0.00", "0.00")
    assert charges_of(data) == [("fee", "2.50", "0.00", True), ("compensation", "40.00", "0.00", True),
                                ("interest", "5.91", "0.00", True)]


def test_a_payment_of_the_open_principal_alone_still_matches_by_amount(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    bank = dunflow.file("bank.csv", "id,date,amount,currency,reference,payer_name\n"
                        "BK-T2,2026-01-31,1000.00,EUR,Thank you,Someone Else\n")
    out = json.loads(dunflow("import", "payments", bank, "--format", "json"))
    assert out["payments"][0]["matched_by"] == "amount", out
    data = dunflow.invoice("L-1", "2026-01-31")  # the charges are paid first: 48.41 of the principal stays open
    assert (data["state"] != "paid", data["total_due"]) == (True, "48.41")


def test_a_total_due_off_by_a_cent_matches_nothing(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    bank = dunflow.file("bank.csv", "id,date,amount,currency,reference,payer_name\n"
                        "BK-T3,2026-01-31,1048.40,EUR,Thank you,Someone Else\n")
    out = json.loads(dunflow("import", "payments", bank, "--format", "json"))
    assert out["payments"][0]["status"] == "unmatched", out
    assert dunflow.invoice("L-1", "2026-01-31")["total_due"] == "1048.41"


def test_a_reversed_payment_reopens_principal_first_then_the_charges(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    dunflow("payments", "add", "L-1", "100.00", "--date", "2026-01-31")
    payment = json.loads(dunflow("payments", "list", "--format", "json"))[0]["id"]
    dunflow("payments", "reverse", str(payment), "--reason", "returned", "--as-of", "2026-02-02")
    data = dunflow.invoice("L-1", "2026-01-31")
    assert [c["open"] for c in data["charges"]] == ["2.50", "40.00", "5.91"]
    assert data["open_principal"] == "1000.00" and data["total_due"] == "1048.41"


def test_a_period_without_a_known_rate_does_not_crash_and_is_shown(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    data = dunflow.invoice("L-1", "2026-07-15")  # rates end 2026-06-30
    assert [c["kind"] for c in data["charges"]] == ["fee", "compensation"]
    assert any("no DE-base rate known for 2026-07-01" in reason for reason in data["charges_not_booked"])
    assert data["total_due"] == "1042.50"


def test_interest_without_a_known_rate_is_reported_once_with_what_to_do(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    for day in ("2026-07-15", "2026-07-16", "2026-08-31"):  # notices, the hand-over and statements all meet it
        dunflow("run", "--as-of", day, "--send")
        dunflow.invoice("L-1", day)
    data = dunflow.invoice("L-1", "2026-08-31")
    interest = [reason for reason in data["charges_not_booked"] if "interest" in reason]
    assert len(interest) == 1, data["charges_not_booked"]
    assert "no DE-base rate known for 2026-07-01" in interest[0] and "rates/" in interest[0]
    skipped = [a for a in data["actions"] if a["kind"] == "charge_skipped" and "interest" in str(a)]
    assert len(skipped) == 1, skipped
    text = dunflow("show", "invoice", "L-1", "--as-of", "2026-08-31")
    debt, timeline = text.split("Timeline", 1)  # once by the total due, once in the audit trail where it happened
    assert debt.count("no DE-base rate known") == 1 and timeline.count("no DE-base rate known") == 1


NL_INVOICES = [
    "N-1,DN1,EUR,1500.00,1500.00,2026-01-02,2026-02-02,Jan de Vries,consumer,NL,nl,jan@vries.example",
    "N-2,DN1,EUR,1500.00,1500.00,2026-01-02,2026-02-02,Jan de Vries,consumer,NL,nl,jan@vries.example",
]
NL_POLICY = """\
apiVersion: dunflow/v1
kind: Policy
metadata: {name: b2c-consumer}
applies_to: {priority: 10, match: {}}
settings: {timezone: Europe/Amsterdam, calendar: NL, language: nl, minimum_open_amount: "1.00", group_per_debtor: true}
charges:
  collection_costs: {law: NL}
  delivery_days: 2
acknowledge:
  - {rule: de-charges-before-default, reason: "test: only Dutch consumers are imported"}
%(acknowledge)s
steps:
  - id: notice
    after: {days: 24, from: due_date}
    channels: [email]
    template: b2c/notice
    pay_within_days: %(pay_within)d
    legal: fourteen_day_letter
  - id: final-letter
    after: {days: %(final_after)d, from: previous_step}
    channels: [email]
    template: b2c/final-letter
    charge: [collection_costs]
    legal: final_notice
escalation:
  id: handover
  after: {days: 60, from: previous_step}
  to: collection_agency
  agency: Incassobureau Noord B.V.
  channels: [email]
  template: b2c/handover
"""


def query(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


def nl_project(project_dir: Path, database_url: str, tmp_path: Path, final_after: int,
               acknowledge: str = "", pay_within: int = 16) -> Dunflow:
    for old in (project_dir / "policies").glob("*.yaml"):
        old.unlink()
    (project_dir / "policies" / "b2c.yaml").write_text(
        NL_POLICY % {"final_after": final_after, "acknowledge": acknowledge, "pay_within": pay_within}, encoding="utf-8")
    cli = Dunflow(project_dir, database_url, tmp_path)
    cli("import", "invoices", cli.file("invoices.csv", "\n".join((HEADER, *NL_INVOICES)) + "\n"))
    return cli


def test_wik_costs_are_booked_after_the_fourteen_day_term_on_the_combined_principal(
        project_dir: Path, database_url: str, tmp_path: Path) -> None:
    """Letter sent Thursday 2026-02-26 (e-mail, 2 delivery days assumed): received 02-28, term to 03-14, costs
    from 03-15; the final letter goes on 2026-03-19. WIK on 3000.00: 15 % of 2500 + 10 % of 500 = 425.00, shared
    212.50 each (per invoice it would be 2 × 225.00)."""
    cli = nl_project(project_dir, database_url, tmp_path, final_after=21)
    cli("run", "--as-of", "2026-02-26", "--send")
    bodies = " ".join(row[0] for row in query(database_url, "SELECT body FROM outbox")).replace("\xa0", " ")
    assert "€ 425,00 aan buitengerechtelijke incassokosten" in bodies
    assert "uiterlijk op 14 maart 2026" in bodies
    cli("run", "--as-of", "2026-03-19", "--send")
    for number in ("N-1", "N-2"):
        data = cli.invoice(number, "2026-03-19")
        assert charges_of(data) == [("collection_costs", "212.50", "212.50", True)]
        assert data["total_due"] == "1712.50"


def test_wik_costs_are_not_booked_while_the_term_runs_and_the_reason_is_shown(
        project_dir: Path, database_url: str, tmp_path: Path) -> None:
    acknowledge = ('  - {rule: nl-fourteen-day-letter, reason: "test: the final letter comes too early"}\n'
                   '  - {rule: nl-fourteen-day-term, reason: "test: the letter asks too little time"}')
    cli = nl_project(project_dir, database_url, tmp_path, final_after=10, acknowledge=acknowledge, pay_within=7)
    cli("run", "--as-of", "2026-02-26", "--send")
    cli("run", "--as-of", "2026-03-09", "--send")
    data = cli.invoice("N-1", "2026-03-09")
    assert data["charges"] == [] and data["total_due"] == "1500.00"
    assert any("costs may be charged from 2026-03-15" in reason for reason in data["charges_not_booked"])


def test_reports_count_the_principal_not_what_went_to_charges(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")
    dunflow("payments", "add", "L-1", "100.00", "--date", "2026-01-31")

    def total(as_of: str) -> str:
        rows = json.loads(dunflow("report", "aging", "--by", "debtor", "--as-of", as_of, "--format", "json"))["rows"]
        return next(row["total"] for row in rows if row["debtor"] == "DL1")

    assert (total("2026-01-30"), total("2026-01-31")) == ("1000.00", "948.41")


def test_a_notice_is_rendered_again_when_a_payment_paid_only_charges_before_it_went_out(dunflow: Dunflow,
                                                                                        database_url: str) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")  # fee 2.50 and compensation 40.00 booked
    dunflow("run", "--as-of", "2026-02-09")  # the final notice is queued with them
    dunflow("payments", "add", "L-1", "10.00", "--date", "2026-02-09")  # 2.50 fee + 7.50 compensation
    dunflow("send", "--as-of", "2026-02-09")
    body = next(row[0] for row in query(database_url, "SELECT body FROM outbox WHERE step = 'final-notice' "
                                                      "AND body LIKE '%L-1%'"))
    assert "32.50" in body and "40.00" not in body


def test_a_notice_whose_charges_did_not_change_goes_out_as_rendered_without_rendering_it_again(
        dunflow: Dunflow, database_url: str) -> None:
    dunflow("run", "--as-of", "2026-01-26", "--send")  # fee and compensation booked
    dunflow("run", "--as-of", "2026-02-09")  # the final notice is queued showing them
    queued = query(database_url, "SELECT id, body, charges_digest FROM outbox WHERE status = 'pending'")
    assert queued and all(digest for _, _, digest in queued)
    for template in dunflow.project.glob("templates/*/b2b/final-notice.j2"):  # rendering it again would now fail
        template.write_text("{% block subject %}{{ broken( }}{% endblock %}", encoding="utf-8")
    sent = json.loads(dunflow("send", "--as-of", "2026-02-09", "--format", "json"))
    assert sent["sent"] == len(queued) and sent["rerendered"] == 0
    after = {row[0]: row[1:] for row in query(database_url, "SELECT id, body, charges_digest, last_error FROM outbox")}
    assert all(after[id_][:2] == (body, digest) and "re-rendered" not in after[id_][2] for id_, body, digest in queued)
