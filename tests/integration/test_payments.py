"""Payments end to end through the CLI, on SQLite and PostgreSQL: import, match, apply, credit, assign.

Each test starts from a `dunflow init` project with its own small invoice file, so the scenarios do
not depend on the shipped sample data. Dates: invoices fall due on 2026-10-01 unless said otherwise.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.cli.main import main

HEADER = ("number,debtor_code,currency,amount,open_amount,issue_date,due_date,"
          "debtor_name,debtor_type,debtor_country,debtor_language,debtor_email")
INVOICES = [
    "P-100,DP1,EUR,100.00,100.00,2026-09-01,2026-10-01,Alpha GmbH,business,DE,en,ap@alpha.example",
    "P-200,DP2,EUR,500.00,500.00,2026-09-01,2026-10-01,Beta AG,business,DE,en,ar@beta.example",
    "P-300,DP3,EUR,100.00,100.00,2026-09-01,2026-10-01,Gamma KG,business,DE,en,ap@gamma.example",
    "P-400,DP4,EUR,80.00,80.00,2026-09-01,2026-10-01,Delta GmbH,business,DE,en,ap@delta.example",
    "P-401,DP4,EUR,50.00,50.00,2026-07-01,2026-08-01,Delta GmbH,business,DE,en,ap@delta.example",
    "P-402,DP4,EUR,60.00,60.00,2026-08-01,2026-09-01,Delta GmbH,business,DE,en,ap@delta.example",
    "P-500,DP5,USD,100.00,100.00,2026-09-01,2026-10-01,Epsilon Inc,business,DE,en,ap@epsilon.example",
    "P-600,DP6,EUR,123.45,123.45,2026-09-01,2026-10-01,Zeta GmbH,business,DE,en,ap@zeta.example",
]
PAYMENTS_HEADER = "id,date,amount,currency,reference,payer_name"
CAMT = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


class Dunflow:
    """The CLI bound to one project and database; fails the test on an unexpected exit code."""

    def __init__(self, project: Path, database: str, files: Path) -> None:
        self.base = ["--project", str(project), "--database", database]
        self.project, self.database, self.files = project, database, files

    def __call__(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*self.base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    def file(self, name: str, content: str) -> str:
        path = self.files / name
        path.write_text(content, encoding="utf-8")
        return str(path)

    def pay_csv(self, name: str, *rows: str, header: str = PAYMENTS_HEADER) -> str:
        return self.file(name, "\n".join((header, *rows)) + "\n")

    def invoice(self, number: str, as_of: str | None = None) -> dict[str, Any]:
        return json.loads(self("show", "invoice", number, *(("--as-of", as_of) if as_of else ()), "--format", "json"))

    def unmatched(self) -> list[dict[str, Any]]:
        return json.loads(self("payments", "unmatched", "--format", "json"))

    def query(self, sql: str) -> list[Any]:
        engine = create_engine(self.database)
        try:
            with engine.connect() as connection:
                return list(connection.execute(text(sql)))
        finally:
            engine.dispose()

    def counts(self) -> tuple[int, int, int]:
        return tuple(self.query("SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM allocations), "
                                "(SELECT count(*) FROM actions)")[0])  # type: ignore[return-value]

    def outbox(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT id, status, step, body, invoice_numbers FROM outbox ORDER BY id")
        return [{"id": r[0], "status": r[1], "step": r[2], "body": r[3],
                 "invoices": r[4] if isinstance(r[4], list) else json.loads(r[4])} for r in rows]


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    cli = Dunflow(project_dir, database_url, tmp_path)
    cli("import", "invoices", cli.file("invoices.csv", "\n".join((HEADER, *INVOICES)) + "\n"))
    return cli


def open_amount(cli: Dunflow, number: str) -> Decimal:
    return Decimal(cli.invoice(number)["open_amount"])


def messages_about(cli: Dunflow, number: str) -> list[dict[str, Any]]:
    return [m for m in cli.outbox() if number in m["invoices"]]


def rf(body: str) -> str:
    """An ISO 11649 creditor reference for `body`, with correct check digits."""
    digits = "".join(str(int(char, 36)) for char in body + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{body}"


def camt_entry(ref: str, amount: str, remittance: str, direction: str = "CRDT") -> str:
    return (f"<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
            f"<BookgDt><Dt>2026-10-05</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls>"
            f"<RltdPties><Dbtr><Pty><Nm>Payer {ref}</Nm></Pty></Dbtr></RltdPties>"
            f"<RmtInf>{remittance}</RmtInf></TxDtls></NtryDtls></Ntry>")


def camt_file(cli: Dunflow, name: str, *entries: str, namespace: str = CAMT) -> str:
    body = "\n".join(entries)
    return cli.file(name, f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{namespace}">\n'
                          f"<BkToCstmrStmt><Stmt>\n{body}\n</Stmt></BkToCstmrStmt>\n</Document>\n")


# --- matching and applying ---------------------------------------------------------------------


def test_full_payment_by_invoice_number_pays_the_invoice_and_later_runs_leave_it_alone(dunflow: Dunflow) -> None:
    out = dunflow("import", "payments", dunflow.pay_csv("bank.csv", "BK-1,2026-10-05,100.00,EUR,Rechnung P-100,Alpha"))
    assert "1 recorded (1 matched" in out
    shown = dunflow.invoice("P-100")
    assert (shown["state"], Decimal(shown["open_amount"])) == ("paid", 0)
    assert "payment BK-1" in shown["actions"][-1]["rule"]
    dunflow("run", "--as-of", "2026-11-20")
    assert messages_about(dunflow, "P-100") == []
    assert messages_about(dunflow, "P-200"), "the run itself worked: other invoices got their notice"
    assert dunflow.invoice("P-100")["state"] == "paid"


def test_partial_payment_reduces_the_open_amount_and_the_next_notice_shows_the_rest(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-12")
    dunflow("send", "--as-of", "2026-10-12")  # the reminder reached the debtor: the next step may follow it
    state = dunflow.invoice("P-200")["state"]
    assert state == "reminder"
    out = dunflow("payment", "add", "P-200", "200.00", "--date", "2026-10-13")
    assert "P-200: 200.00 applied, 300.00 open, state reminder" in out
    shown = dunflow.invoice("P-200")
    assert (shown["state"], Decimal(shown["open_amount"])) == (state, Decimal("300.00"))
    before = {m["id"] for m in messages_about(dunflow, "P-200")}
    dunflow("run", "--as-of", "2026-10-20")
    new = [m for m in messages_about(dunflow, "P-200") if m["id"] not in before]
    assert new and all("300.00" in m["body"] and "500.00" not in m["body"] for m in new)


def test_partial_payment_leaving_less_than_the_policy_minimum_ends_dunning(dunflow: Dunflow) -> None:
    out = dunflow("payment", "add", "P-300", "96.00", "--date", "2026-10-05", "--credit-note")
    assert out.startswith("credit note #")
    shown = dunflow.invoice("P-300")
    assert (shown["state"], Decimal(shown["open_amount"])) == ("below_minimum", Decimal("4.00"))
    assert "below the policy minimum 5.00 EUR" in shown["actions"][-1]["rule"]
    assert [tuple(r) for r in dunflow.query("SELECT kind, status FROM payments")] == [("credit_note", "matched")]
    dunflow("run", "--as-of", "2026-11-20")
    assert messages_about(dunflow, "P-300") == []


def test_over_payment_goes_to_the_oldest_other_invoices_and_the_rest_is_a_credit(dunflow: Dunflow) -> None:
    dunflow("import", "payments", dunflow.pay_csv("b1.csv", "BK-1,2026-10-05,150.00,EUR,P-400,Delta"))
    amounts = {n: open_amount(dunflow, n) for n in ("P-400", "P-401", "P-402")}
    assert amounts == {"P-400": 0, "P-401": 0, "P-402": Decimal("40.00")}  # P-401 is due before P-402
    assert dunflow.unmatched() == []
    out = dunflow("import", "payments", dunflow.pay_csv("b2.csv", "BK-2,2026-10-06,100.00,EUR,P-402,Delta"))
    assert "BK-2: 60.00 EUR left as a credit" in out
    assert dunflow.invoice("P-402")["state"] == "paid"
    [credit] = dunflow.unmatched()
    assert (credit["external_id"], credit["status"], credit["debtor"]) == ("BK-2", "credit", "DP4")
    assert (credit["amount"], credit["unallocated"], credit["currency"]) == ("100.00", "60.00", "EUR")


def test_several_invoice_numbers_in_one_remittance_are_paid_oldest_first(dunflow: Dunflow) -> None:
    dunflow("import", "payments", dunflow.pay_csv("b.csv", "BK-1,2026-10-05,70.00,EUR,P-400 P-401; P-402,Delta"))
    assert {n: open_amount(dunflow, n) for n in ("P-400", "P-401", "P-402")} == {
        "P-400": Decimal("80.00"), "P-401": 0, "P-402": Decimal("40.00")}


def test_payment_in_another_currency_than_the_invoice_stays_unmatched(dunflow: Dunflow) -> None:
    dunflow("import", "payments", dunflow.pay_csv("b.csv", "BK-1,2026-10-05,100.00,EUR,P-500,Epsilon"))
    assert open_amount(dunflow, "P-500") == Decimal("100.00")
    assert open_amount(dunflow, "P-100") == Decimal("100.00"), "no fallback to an amount match"
    [entry] = dunflow.unmatched()
    assert entry["status"] == "unmatched" and "currency" in entry["why"] and entry["debtor"] is None


def test_invoice_column_names_the_invoice_explicitly(dunflow: Dunflow) -> None:
    path = dunflow.pay_csv("b.csv", "BK-1,2026-10-05,100.00,EUR,P-600,Alpha,P-100",
                           header=PAYMENTS_HEADER + ",invoice")
    dunflow("import", "payments", path)
    assert dunflow.invoice("P-100")["state"] == "paid"
    assert open_amount(dunflow, "P-600") == Decimal("123.45")


def test_camt053_import_matches_and_a_second_import_changes_nothing(dunflow: Dunflow) -> None:
    path = camt_file(
        dunflow, "statement.xml",
        camt_entry("C-1", "100.00", "<Ustrd>Rechnung P-100 vom 01.09.2026</Ustrd>"),
        camt_entry("C-2", "500.00", f"<Strd><CdtrRefInf><Ref>{rf('P200')}</Ref></CdtrRefInf></Strd>"),
        camt_entry("C-3", "123.45", "<Ustrd>Sammelzahlung</Ustrd>"),
        camt_entry("C-4", "77.77", "<Ustrd>Vielen Dank</Ustrd>"),
        camt_entry("C-5", "12.50", "<Ustrd>Kontofuehrung</Ustrd>", direction="DBIT"))
    out = dunflow("import", "payments", path)
    assert "4 recorded (3 matched, 0 with a credit left, 1 unmatched), 0 already imported" in out
    assert [dunflow.invoice(n)["state"] for n in ("P-100", "P-200", "P-600")] == ["paid"] * 3
    by_how = {r[0]: r[1] for r in dunflow.query("SELECT external_id, matched_by FROM payments")}
    assert (by_how["C-1"], by_how["C-2"], by_how["C-3"]) == ("reference", "structured reference", "amount")
    counts = dunflow.counts()
    again = dunflow("import", "payments", path, "--input-format", "camt053")
    assert "0 recorded (0 matched, 0 with a credit left, 0 unmatched), 4 already imported" in again
    assert dunflow.counts() == counts
    assert [e["external_id"] for e in dunflow.unmatched()] == ["C-4"]


def test_reimport_of_an_id_with_other_values_is_an_error_and_changes_nothing(dunflow: Dunflow) -> None:
    dunflow("import", "payments", dunflow.pay_csv("b1.csv", "BK-1,2026-10-05,40.00,EUR,P-200,Beta"))
    counts = dunflow.counts()
    out = dunflow("import", "payments", dunflow.pay_csv("b2.csv", "BK-1,2026-10-05,90.00,EUR,P-200,Beta",
                                                        "BK-2,2026-10-05,10.00,EUR,P-200,Beta"), code=1)
    assert "b2.csv:2: error: entry 'BK-1' (this line) was imported before as 40.00 EUR" in out
    assert "nothing was changed" in out
    assert dunflow.counts() == counts
    assert open_amount(dunflow, "P-200") == Decimal("460.00")


def test_unmatched_entry_is_assigned_by_hand(dunflow: Dunflow) -> None:
    dunflow("import", "payments", dunflow.pay_csv("b.csv", "BK-9,2026-10-05,77.77,EUR,Vielen Dank,Unknown"))
    [entry] = dunflow.unmatched()
    assert (entry["status"], entry["unallocated"], entry["reference"], entry["payer"]) == (
        "unmatched", "77.77", "Vielen Dank", "Unknown")
    out = dunflow("payments", "assign", str(entry["id"]), "P-300")
    assert "P-300: 77.77 applied, 22.23 open" in out
    assert open_amount(dunflow, "P-300") == Decimal("22.23")
    assert dunflow.unmatched() == []
    assert "nothing left to assign" in dunflow("payments", "assign", str(entry["id"]), "P-300", code=1)
    assert "unknown payment #999" in dunflow("payments", "assign", "999", "P-300", code=1)


def test_assign_refuses_an_invoice_in_another_currency(dunflow: Dunflow) -> None:
    dunflow("import", "payments", dunflow.pay_csv("b.csv", "BK-9,2026-10-05,77.77,EUR,Danke,Unknown"))
    [entry] = dunflow.unmatched()
    counts = dunflow.counts()
    assert "in EUR, invoice P-500 in USD" in dunflow("payments", "assign", str(entry["id"]), "P-500", code=1)
    assert dunflow.counts() == counts


def test_payment_after_run_before_send_withdraws_the_queued_notice(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-12")
    queued = messages_about(dunflow, "P-100")
    assert queued and {m["status"] for m in queued} == {"pending"}
    dunflow("payment", "add", "P-100", "100.00", "--date", "2026-10-13", "--reference", "TRX-77")
    assert {m["status"] for m in messages_about(dunflow, "P-100")} == {"cancelled"}
    dunflow("send")
    delivered = [p.read_text(encoding="utf-8") for p in (dunflow.project / "outbox").rglob("*") if p.is_file()]
    assert delivered, "the other debtors' notices were delivered"
    assert not any("P-100" in content for content in delivered)


# --- mistakes change nothing -------------------------------------------------------------------


BAD_CSV_ROWS = {
    "negative amount": ("BK-2,2026-10-05,-5.00,EUR,P-200,Beta", 3, 3, "negative"),
    "bad date": ("BK-2,2026-13-01,5.00,EUR,P-200,Beta", 3, 2, "not a real date"),
    "duplicate id": ("BK-1,2026-10-05,5.00,EUR,P-200,Beta", 3, 1, "used twice"),
    "unknown invoice": ("BK-2,2026-10-05,5.00,EUR,P-200,Beta,P-999", 3, 7, "unknown invoice 'P-999'"),
    "invoice in another currency": ("BK-2,2026-10-05,5.00,EUR,,Beta,P-500", 3, 7, "'P-500' is in USD"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV_ROWS))
def test_bad_payments_file_is_refused_with_file_and_line_and_writes_nothing(dunflow: Dunflow, case: str) -> None:
    dunflow("payment", "add", "P-600", "23.45", "--date", "2026-10-01")  # the database is not empty
    row, line, col, message = BAD_CSV_ROWS[case]
    path = dunflow.pay_csv("bad.csv", "BK-1,2026-10-05,100.00,EUR,P-100,Alpha", row,
                           header=PAYMENTS_HEADER + ",invoice")
    counts = dunflow.counts()
    out = dunflow("import", "payments", path, code=1)
    assert f"{path}:{line}:{col}: error:" in out and message in out
    assert "nothing was changed" in out
    assert dunflow.counts() == counts
    assert dunflow.invoice("P-100")["state"] == "new"


def test_statement_with_the_wrong_namespace_is_refused(dunflow: Dunflow) -> None:
    path = camt_file(dunflow, "report.xml", camt_entry("C-1", "100.00", "<Ustrd>P-100</Ustrd>"),
                     namespace="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08")
    counts = dunflow.counts()
    out = dunflow("import", "payments", path, code=1)
    assert f"{path}:2:1: error: not a camt.053 statement" in out and "camt.052" in out
    assert dunflow.counts() == counts


def test_all_problems_of_a_file_are_reported_at_once(dunflow: Dunflow) -> None:
    path = dunflow.pay_csv("bad.csv", "BK-1,2026-10-05,1.0.0,EUR,,Alpha,", "BK-2,2026-10-05,5.00,EUR,,Beta,NOPE",
                           header=PAYMENTS_HEADER + ",invoice")
    out = dunflow("import", "payments", path, code=1)
    assert f"{path}:2:3:" in out and f"{path}:3:7:" in out


@pytest.mark.parametrize(("args", "message"), [
    (("P-999", "10.00"), "unknown invoice 'P-999'"),
    (("P-100", "12,50"), "write 12.50"),
    (("P-100", "10.001"), "more decimals than EUR allows"),
    (("P-100", "0"), "zero"),
])
def test_payment_add_mistakes(dunflow: Dunflow, args: tuple[str, str], message: str) -> None:
    out = dunflow("payment", "add", *args, "--date", "2026-10-05", code=1)
    assert message in out and "Traceback" not in out
    assert dunflow.counts()[0] == 0


def test_payment_add_refuses_a_reference_used_before(dunflow: Dunflow) -> None:
    dunflow("payment", "add", "P-200", "10.00", "--date", "2026-10-05", "--reference", "TRX-1")
    out = dunflow("payment", "add", "P-200", "10.00", "--date", "2026-10-05", "--reference", "TRX-1", code=1)
    assert "already recorded" in out
    assert open_amount(dunflow, "P-200") == Decimal("490.00")
    dunflow("payment", "add", "P-200", "10.00", "--date", "2026-10-05")
    dunflow("payment", "add", "P-200", "10", "--date", "2026-10-05")
    ids = sorted(r[0] for r in dunflow.query("SELECT external_id FROM payments"))
    assert ids == ["TRX-1", "manual:P-200:2026-10-05:10.00:1", "manual:P-200:2026-10-05:10.00:2"]


def test_a_notice_queued_before_a_partial_payment_goes_out_with_the_new_open_amount(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-12")
    queued = messages_about(dunflow, "P-200")
    assert queued and all("500.00" in m["body"] for m in queued)
    dunflow("payment", "add", "P-200", "200.00", "--date", "2026-10-13")
    out = dunflow("send")
    assert "re-rendered" in out
    sent = [m for m in dunflow.outbox() if m["id"] in {q["id"] for q in queued}]
    assert all(m["status"] == "sent" and "300.00" in m["body"] and "500.00" not in m["body"] for m in sent)
