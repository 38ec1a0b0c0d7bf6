"""Money in, never lost (issue 14), end to end through the CLI on SQLite and PostgreSQL.

Entry keys that identify a bank entry, doubtful entries kept for a person, returns and reversals that
re-open invoices and resume dunning, summaries that say what was skipped, and the same amount limits
on both databases. The bank files are written here from the ISO 20022 camt.053/camt.054 structures.
"""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.integration.test_payments import Dunflow, dunflow, open_amount  # noqa: F401 - fixture

CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
CAMT054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
OWN_IBAN = "DE89370400440532013000"  # the creditor IBAN `dunflow init` writes


def ntry(amount: str, *, e2e: str = "", ustrd: str = "", ref: str = "", direction: str = "CRDT",
         status: str = "<Cd>BOOK</Cd>", reversal: bool = False, day: str = "2026-10-05", tx: str = "",
         return_reason: str = "") -> str:
    """One booked entry; no AcctSvcrRef unless `ref` (real Belgian and ABN AMRO files carry none)."""
    refs = f"<Refs><EndToEndId>{e2e}</EndToEndId></Refs>" if e2e else ""
    rtr = f"<RtrInf><Rsn><Cd>{return_reason}</Cd></Rsn></RtrInf>" if return_reason else ""
    details = tx or (f"<NtryDtls><TxDtls>{refs}<RmtInf><Ustrd>{ustrd}</Ustrd></RmtInf>{rtr}</TxDtls></NtryDtls>")
    return (f"<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>"
            + ("<RvslInd>true</RvslInd>" if reversal else "")
            + f"<Sts>{status}</Sts><BookgDt><Dt>{day}</Dt></BookgDt>"
            + (f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else "") + f"{details}</Ntry>")


def statement(cli: Dunflow, name: str, statement_id: str, *entries: str, namespace: str = CAMT053,
              account: str = OWN_IBAN) -> str:
    group, report = ("BkToCstmrStmt", "Stmt") if namespace == CAMT053 else ("BkToCstmrDbtCdtNtfctn", "Ntfctn")
    body = "\n".join(entries)
    return cli.file(name, f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{namespace}"><{group}>\n'
                          f"<{report}><Id>{statement_id}</Id><Acct><Id><IBAN>{account}</IBAN></Id></Acct>\n"
                          f"{body}\n</{report}></{group}></Document>\n")


def summary(cli: Dunflow, path: str) -> dict[str, object]:
    return json.loads(cli("import", "payments", path, "--format", "json"))


# --- the idempotency key ------------------------------------------------------------------------------


def test_two_instalments_with_the_same_end_to_end_id_in_two_statements_are_both_recorded(dunflow: Dunflow) -> None:
    first = statement(dunflow, "oct.xml", "STMT-10", ntry("250.00", e2e="P-200", ustrd="P-200"))
    second = statement(dunflow, "nov.xml", "STMT-11", ntry("250.00", e2e="P-200", ustrd="P-200", day="2026-11-05"))
    assert summary(dunflow, first)["recorded"] == 1
    assert open_amount(dunflow, "P-200") == Decimal("250.00")
    report = summary(dunflow, second)
    assert (report["recorded"], report["already_imported"]) == (1, 0)
    assert dunflow.invoice("P-200")["state"] == "paid"
    assert summary(dunflow, second)["already_imported"] == 1, "the same statement again changes nothing"


def test_one_statement_with_two_entries_of_one_end_to_end_id_records_both(dunflow: Dunflow) -> None:
    path = statement(dunflow, "s.xml", "S-1", ntry("40.00", e2e="E2E-1", ustrd="P-400"),
                     ntry("60.00", e2e="E2E-1", ustrd="P-402"))
    assert summary(dunflow, path)["recorded"] == 2
    assert (open_amount(dunflow, "P-400"), open_amount(dunflow, "P-402")) == (Decimal("40.00"), 0)


# --- one bad entry never blocks a statement ---------------------------------------------------------


def test_doubtful_entries_wait_in_unmatched_with_their_reason_while_the_rest_is_imported(dunflow: Dunflow) -> None:
    batch = ("<NtryDtls><TxDtls><Amt Ccy=\"EUR\">60.00</Amt><RmtInf><Ustrd>P-401</Ustrd></RmtInf></TxDtls>"
             "<TxDtls><Amt Ccy=\"EUR\">40.00</Amt><RmtInf><Ustrd>P-402</Ustrd></RmtInf></TxDtls></NtryDtls>")
    path = statement(dunflow, "s.xml", "S-1",
                     ntry("100.00", ustrd="P-100", status="<Prtry>BOOK</Prtry>"),
                     ntry("8.85", tx="<NtryDtls><TxDtls/></NtryDtls>"),
                     ntry("98.50", tx=batch, ref="B-1"),
                     ntry("5.00", ref="B-1", ustrd="P-300"))
    report = summary(dunflow, path)
    assert (report["recorded"], report["matched"]) == (4, 1)
    assert dunflow.invoice("P-100")["state"] == "paid", "Prtry BOOK is booked"
    why = {entry["amount"]: entry["why"] for entry in dunflow.unmatched()}
    assert "add up to 100.00, the entry says 98.50" in why["98.50"]
    assert why["5.00"] == "bank reference 'B-1' also used by entry 3"
    assert "8.85" in why, "a credit without any reference is kept, not refused"
    assert (open_amount(dunflow, "P-401"), open_amount(dunflow, "P-300")) == (Decimal("50.00"), Decimal("100.00"))


def test_summary_counts_what_was_skipped(dunflow: Dunflow) -> None:
    path = statement(dunflow, "s.xml", "S-1", ntry("100.00", ustrd="P-100"), ntry("12.50", direction="DBIT"),
                     ntry("9.00", status="<Cd>PDNG</Cd>"), ntry("7.00", status="<Cd>INFO</Cd>"),
                     ntry("3.00", reversal=True), ntry("0.00", ustrd="P-300"))
    report = summary(dunflow, path)
    assert report["skipped"] == {"debit": 1, "pending": 1, "informational": 1, "reversal": 1, "zero": 1}
    assert report["recorded"] == 1 and open_amount(dunflow, "P-300") == Decimal("100.00")
    text = dunflow("import", "payments", path)
    assert "1 already imported" in text and "skipped: 1 debit(s), 1 pending, 1 informational" in text


# --- returns and reversals -----------------------------------------------------------------------------


def test_a_returned_direct_debit_reopens_the_invoice_and_dunning_resumes_where_it_stood(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-12", "--send")  # the reminder reached the debtor: dunning stood there
    assert dunflow.invoice("P-200")["state"] == "reminder"
    paid = statement(dunflow, "oct.xml", "S-10", ntry("500.00", e2e="DD-77", ustrd="P-200", ref="A-1"))
    dunflow("import", "payments", paid)
    assert dunflow.invoice("P-200")["state"] == "paid"
    returned = statement(dunflow, "ret.xml", "S-11", ntry("500.00", e2e="DD-77", direction="DBIT", reversal=True,
                                                          ref="R-1", day="2026-10-09", return_reason="MD06"))
    report = summary(dunflow, returned)
    assert report["returns"] == 1 and report["reversals"][0]["reopened"] == ["P-200"]
    shown = dunflow.invoice("P-200")
    assert (shown["state"], Decimal(shown["open_amount"])) == ("reminder", Decimal("500.00"))
    assert "MD06" in shown["actions"][-1]["rule"]
    assert shown["next"] is not None, "dunning resumes"
    assert summary(dunflow, returned)["already_imported"] == 1
    assert open_amount(dunflow, "P-200") == Decimal("500.00"), "a re-imported return changes nothing"


def test_a_return_in_a_camt054_whose_original_is_unknown_waits_in_unmatched(dunflow: Dunflow) -> None:
    path = statement(dunflow, "n.xml", "N-1", ntry("70.00", e2e="NOPE", direction="DBIT", reversal=True,
                                                   return_reason="AC04"), namespace=CAMT054)
    report = summary(dunflow, path)
    assert report["returns_unmatched"] == 1
    [entry] = dunflow.unmatched()
    assert entry["kind"] == "return" and "no recorded payment of 70.00 EUR" in entry["why"]


def test_payment_reverse_by_hand_reopens_what_it_paid_and_is_refused_twice(dunflow: Dunflow) -> None:
    dunflow("payment", "add", "P-100", "100.00", "--date", "2026-10-05")
    [payment] = json.loads(dunflow("payments", "list", "--format", "json"))
    assert payment["allocations"] == [{"invoice": "P-100", "amount": "100.00", "on": "2026-10-05"}]
    out = dunflow("payments", "reverse", str(payment["id"]), "--reason", "cheque bounced", "--date", "2026-10-07")
    assert "re-opened: P-100" in out
    shown = dunflow.invoice("P-100")
    assert (shown["state"], Decimal(shown["open_amount"])) == ("new", Decimal("100.00"))
    assert "cheque bounced" in shown["actions"][-1]["rule"]
    [listed] = json.loads(dunflow("payments", "list", "--format", "json"))
    assert (listed["status"], listed["reversal_reason"]) == ("reversed", "cheque bounced")
    assert [a["amount"] for a in listed["allocations"]] == ["100.00", "-100.00"]
    again = dunflow("payments", "reverse", str(payment["id"]), "--reason", "again", code=1)
    assert "already reversed" in again


def test_a_reversal_dated_before_the_payment_is_refused(dunflow: Dunflow) -> None:
    dunflow("payment", "add", "P-100", "100.00", "--date", "2026-10-05")
    out = dunflow("payments", "reverse", "1", "--reason", "typo", "--date", "2026-10-04", code=1)
    assert "arrived on 2026-10-05; it cannot be reversed on 2026-10-04" in out
    assert dunflow.invoice("P-100")["state"] == "paid"


# --- the same limits on both databases ------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "message"), [
    ("100000000000000.00", "is too large"), ("9" * 400, "is too large"), ("99999999999999.99", ""),
])
def test_amount_limits_are_the_same_on_every_database(dunflow: Dunflow, amount: str, message: str) -> None:
    counts = dunflow.counts()
    path = dunflow.pay_csv("b.csv", f"BK-1,2026-10-05,{amount},EUR,nothing,Somebody")
    out = dunflow("import", "payments", path, code=1 if message else 0)
    if message:
        assert "b.csv:2:3: error: column 'amount'" in out and message in out
        assert dunflow.counts() == counts
    else:
        assert dunflow.unmatched()[0]["amount"] == amount


def test_currency_xxx_is_refused(dunflow: Dunflow) -> None:
    out = dunflow("import", "payments", dunflow.pay_csv("b.csv", "BK-1,2026-10-05,10.00,XXX,P-100,A"), code=1)
    assert "currency 'XXX' is no currency" in out


def test_a_statement_of_another_account_than_the_creditors_is_refused(dunflow: Dunflow) -> None:
    own = statement(dunflow, "own.xml", "S-1", ntry("100.00", ustrd="P-100"))
    other = statement(dunflow, "other.xml", "S-2", ntry("100.00", ustrd="P-300"), account="NL91ABNA0417164300")
    assert summary(dunflow, own)["recorded"] == 1
    out = dunflow("import", "payments", other, code=1)
    assert "statement is for account NL91ABNA0417164300" in out
    config = dunflow.project / "dunflow.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "payments:\n  accounts: [NL91 ABNA 0417 1643 00]\n",
                      encoding="utf-8")
    assert summary(dunflow, other)["recorded"] == 1, "a second account of the creditor's, named in dunflow.yaml"


# --- the formats through the command line ----------------------------------------------------------------


def test_bank_csv_through_a_profile_in_dunflow_yaml(dunflow: Dunflow) -> None:
    config = dunflow.project / "dunflow.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "payments:\n  csv_profiles:\n    hausbank:\n      encoding: iso-8859-1\n      date_format: '%d.%m.%y'\n"
        "      credit: [H]\n      currency: EUR\n"
        "      columns: {date: Buchungstag, amount: Umsatz, direction: S/H, reference: [VWZ1, VWZ2]}\n"),
        encoding="utf-8")
    path = dunflow.files / "umsatz.csv"
    path.write_bytes("Umsätze Konto 123\nBuchungstag;Umsatz;S/H;VWZ1;VWZ2\n05.10.26;100,00;H;Rechnung;P-100\n"
                     "05.10.26;9,99;S;Gebühr;\n".encode("iso-8859-1"))
    report = json.loads(dunflow("import", "payments", str(path), "--profile", "hausbank", "--format", "json"))
    assert (report["matched"], report["skipped"]["debit"]) == (1, 1)
    assert dunflow.invoice("P-100")["state"] == "paid"
    again = json.loads(dunflow("import", "payments", str(path), "--profile", "hausbank", "--format", "json"))
    assert (again["recorded"], again["already_imported"]) == (0, 1)


def test_mt940_payment_and_its_return_through_the_command_line(dunflow: Dunflow) -> None:
    def mt940(number: str, mark: str, ref: str, details: str) -> str:
        return (f":20:STMT\n:25:{OWN_IBAN}\n:28C:{number}\n:60F:C261001EUR0,00\n"
                f":61:2610051005{mark}500,00NTRFNONREF//{ref}\n:86:{details}\n"
                f":62F:{'C' if mark == 'C' else 'D'}261005EUR500,00\n-\n")
    paid = dunflow.file("oct.sta", mt940("1", "C", "B-1", "/EREF/DD-9//REMI/USTD//Factuur P-200/"))
    dunflow("import", "payments", paid)
    assert dunflow.invoice("P-200")["state"] == "paid"
    returned = dunflow.file("ret.sta", mt940("2", "D", "B-2", "/RTRN/AC04/EREF/DD-9//REMI/USTD//Storno/"))
    out = dunflow("import", "payments", returned)
    assert "re-opened P-200" in out and "AC04" in out
    assert open_amount(dunflow, "P-200") == Decimal("500.00")


def test_an_mt940_statement_on_stdin_is_recognised_and_reverse_takes_as_of(dunflow: Dunflow) -> None:
    from click.testing import CliRunner

    from dunflow.cli.main import main

    statement_text = (f":20:STMT\n:25:{OWN_IBAN}\n:28C:7\n:60F:C261001EUR0,00\n"
                      ":61:2610051005C500,00NTRFNONREF//B-7\n:86:/EREF/DD-7//REMI/USTD//Factuur P-200/\n"
                      ":62F:C261005EUR500,00\n-\n")
    piped = CliRunner().invoke(main, [*dunflow.base, "import", "payments", "-", "--format", "json"],
                               input=statement_text.encode(), catch_exceptions=False)
    assert piped.exit_code == 0, piped.output
    report = json.loads(piped.stdout)
    assert (report["kind"], report["file"], report["recorded"], report["matched"]) == ("payments", "-", 1, 1)
    assert dunflow.invoice("P-200")["state"] == "paid"
    [payment] = json.loads(dunflow("payments", "list", "--format", "json"))
    undone = json.loads(dunflow("payments", "reverse", str(payment["id"]), "--reason", "AC04", "--as-of",
                                "2026-10-08", "--format", "json"))
    assert undone == {"id": payment["id"], "reason": "AC04", "date": "2026-10-08", "reopened": ["P-200"]}
    assert open_amount(dunflow, "P-200") == Decimal("500.00")


def test_a_bank_format_given_as_format_points_to_input_format(dunflow: Dunflow) -> None:
    out = dunflow("import", "payments", dunflow.file("x.sta", ":20:X\n"), "--format", "mt940", code=2)
    assert "--input-format mt940" in out
