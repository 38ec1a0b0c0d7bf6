"""Payments files (canonical CSV/XLSX, camt.053) into PaymentRecords, and every way they can be wrong."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from dunflow.errors import DunflowError, InputProblems, Problem
from dunflow.formats.bankfiles import PaymentRecord, read_payments, rf_reference_valid

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"


def entry(amount: str = "100.00", ccy: str = "EUR", ind: str = "CRDT", sts: str = "<Cd>BOOK</Cd>",
          refs: str = "<AcctSvcrRef>REF-1</AcctSvcrRef>", dates: str = "<BookgDt><Dt>2024-03-01</Dt></BookgDt>",
          details: str = "", extra: str = "") -> str:
    """One Ntry; the defaults are a booked EUR 100.00 credit with reference REF-1."""
    return (f"<Ntry><Amt Ccy=\"{ccy}\">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{extra}<Sts>{sts}</Sts>"
            f"{dates}{refs}<BkTxCd/>{details}</Ntry>")


def tx(amount: str = "", ustrd: str = "", strd: str = "", e2e: str = "", payer: str = "") -> str:
    parts = [f"<Refs><EndToEndId>{e2e}</EndToEndId></Refs>" if e2e else "",
             f"<Amt Ccy=\"EUR\">{amount}</Amt>" if amount else "",
             f"<RltdPties><Dbtr><Pty><Nm>{payer}</Nm></Pty></Dbtr></RltdPties>" if payer else "",
             "<RmtInf>" + "".join(f"<Ustrd>{u}</Ustrd>" for u in ustrd.split("|") if u)
             + (f"<Strd><CdtrRefInf><Ref>{strd}</Ref></CdtrRefInf></Strd>" if strd else "") + "</RmtInf>"]
    return "<TxDtls>" + "".join(parts) + "</TxDtls>"


def details(*transactions: str) -> str:
    return "<NtryDtls>" + "".join(transactions) + "</NtryDtls>"


def camt(tmp_path: Path, *entries: str, version: str = "08", namespace: str | None = None, name: str = "s.xml") -> Path:
    ns = namespace if namespace is not None else NS.format(version=version)
    xmlns = f' xmlns="{ns}"' if ns else ""
    body = "\n".join(entries)
    text = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{xmlns}>\n<BkToCstmrStmt>\n<Stmt>\n{body}\n'
            "</Stmt>\n</BkToCstmrStmt>\n</Document>\n")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, fmt: str | None = None) -> list[Problem]:
    with pytest.raises(InputProblems) as caught:
        read_payments(path, fmt)
    return caught.value.problems


# --- the sample statement ------------------------------------------------------------------------


def test_sample_camt_file_gives_exactly_the_booked_credits() -> None:
    source = "camt053-sample.xml:entry"
    schneider = ("Bäckerei Schneider e.K.", "DE30860555921090371528", f"{source} 4")
    records = [replace(r, end_to_end_id="") for r in read_payments(EXAMPLES / "camt053-sample.xml")]
    assert records == [
        PaymentRecord("2026120200001842", date(2026, 12, 2), Decimal("1190.00"), "EUR", "Rechnung INV-1001",
                      "Müller Maschinenbau GmbH", "DE95600501010004127733", f"{source} 1"),
        PaymentRecord("2026120200002107", date(2026, 12, 2), Decimal("5000.00"), "EUR",
                      "Teilzahlung INV-1003 Rest folgt bis 31.12.2026", "Hoffmann Logistik GmbH & Co. KG",
                      "DE42200505501280446127", f"{source} 2"),
        PaymentRecord("2026120300000561", date(2026, 12, 3), Decimal("5517.60"), "EUR", "RF69INV1031",
                      "Peeters & Zonen BV", "BE47001447218980", f"{source} 3"),
        PaymentRecord("2026120300003390/1", date(2026, 12, 3), Decimal("4534.50"), "EUR", "Rechnung INV-1035",
                      *schneider),
        PaymentRecord("2026120300003390/2", date(2026, 12, 3), Decimal("2749.50"), "EUR", "Rechnung INV-1041",
                      *schneider),
        PaymentRecord("2026120400000918", date(2026, 12, 4), Decimal("296.30"), "EUR", "Zahlung auf Ihre Mahnung",
                      "Thomas Wagner", "DE43701500000031447862", f"{source} 5"),
        PaymentRecord("2026120400001276", date(2026, 12, 4), Decimal("150.00"), "EUR",
                      "Ratenzahlung 1/2 Rechnung vom 13.11.2026", "Anna Becker", "DE25370501981932558804",
                      f"{source} 6"),
    ]


@pytest.mark.parametrize("ref", ["RF69INV1031", "RF57INV1053"])
def test_sample_structured_references_are_valid_rf_references(ref: str) -> None:
    assert rf_reference_valid(ref)


def test_sample_payments_csv_is_read() -> None:
    records = read_payments(EXAMPLES / "payments.csv")
    assert [(r.external_id, r.booked_on, r.amount, r.currency, r.reference, r.source) for r in records] == [
        ("BANK-2026-1207-01", date(2026, 12, 7), Decimal("95.53"), "EUR", "INV-1007", "payments.csv:2"),
        ("BANK-2026-1208-01", date(2026, 12, 8), Decimal("1500.00"), "GBP", "Part payment INV-1010",
         "payments.csv:3"),
        ("BANK-2026-1209-01", date(2026, 12, 9), Decimal("1929.95"), "EUR", "RF57INV1053", "payments.csv:4"),
    ]


# --- what becomes a record -----------------------------------------------------------------------


def test_debit_and_pending_entries_are_skipped(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(ind="DBIT", refs="<AcctSvcrRef>FEE</AcctSvcrRef>"),
                entry(sts="<Cd>PDNG</Cd>", refs="<AcctSvcrRef>LATER</AcctSvcrRef>"), entry())
    assert [r.external_id for r in read_payments(path)] == ["REF-1"]


def test_reversed_credit_is_skipped(tmp_path: Path) -> None:
    assert read_payments(camt(tmp_path, entry(extra="<RvslInd>true</RvslInd>"))) == []


def test_old_version_02_with_plain_status_and_debtor_name_is_read(tmp_path: Path) -> None:
    party = ("<TxDtls><RltdPties><Dbtr><Nm>Old Bank Kunde</Nm></Dbtr>"
             "<DbtrAcct><Id><IBAN>DE89 3704 0044 0532 0130 00</IBAN></Id></DbtrAcct></RltdPties></TxDtls>")
    path = camt(tmp_path, entry(sts="BOOK", details=details(party)), version="02")
    [record] = read_payments(path)
    assert (record.payer_name, record.payer_iban) == ("Old Bank Kunde", "DE89370400440532013000")


def test_batched_entry_is_split_per_transaction(tmp_path: Path) -> None:
    batch = details(tx("60.00", ustrd="INV-1"), tx("40.00", strd="RF18539007547034"))
    records = read_payments(camt(tmp_path, entry(details=batch)))
    assert [(r.external_id, r.amount, r.reference) for r in records] == [
        ("REF-1/1", Decimal("60.00"), "INV-1"), ("REF-1/2", Decimal("40.00"), "RF18539007547034")]


def test_batch_amounts_in_amount_details_are_used_too(tmp_path: Path) -> None:
    old_style = "<TxDtls><AmtDtls><TxAmt><Amt Ccy=\"EUR\">{}</Amt></TxAmt></AmtDtls></TxDtls>"
    batch = details(old_style.format("30.00"), old_style.format("70.00"))
    amounts = [r.amount for r in read_payments(camt(tmp_path, entry(details=batch)))]
    assert amounts == [Decimal("30.00"), Decimal("70.00")]


def test_batch_that_does_not_add_up_is_kept_whole_for_a_person(tmp_path: Path) -> None:
    batch = details(tx("60.00"), tx("30.00"))
    [record] = read_payments(camt(tmp_path, entry(details=batch)))
    assert (record.external_id, record.amount) == ("REF-1", Decimal("100.00"))
    assert "add up to 90.00" in record.problem and "100.00" in record.problem


def test_batch_without_per_transaction_amounts_stays_one_payment(tmp_path: Path) -> None:
    batch = details(tx(ustrd="INV-1"), tx(ustrd="INV-2"))
    [record] = read_payments(camt(tmp_path, entry(details=batch)))
    assert (record.external_id, record.amount, record.reference) == ("REF-1", Decimal("100.00"), "INV-1 INV-2")


def test_structured_reference_wins_over_free_text(tmp_path: Path) -> None:
    one = details(tx(ustrd="Rechnung 17", strd="RF18539007547034"))
    [record] = read_payments(camt(tmp_path, entry(details=one)))
    assert record.reference == "RF18539007547034"


def test_without_bank_reference_the_key_is_the_entry_position_not_ntryref_or_end_to_end_id(tmp_path: Path) -> None:
    by_ntry_ref = entry(refs="<AcctSvcrRef>NONREF</AcctSvcrRef>", extra="")
    by_ntry_ref = by_ntry_ref.replace("<Ntry>", "<Ntry><NtryRef>N-7</NtryRef>")
    by_e2e = entry(refs="", details=details(tx(e2e="E2E-9")))
    records = read_payments(camt(tmp_path, by_ntry_ref, by_e2e))
    assert [r.external_id for r in records] == ["-/-/1/100.00/2024-03-01", "-/-/2/100.00/2024-03-01"]
    assert records[1].end_to_end_id == "E2E-9"


def test_booking_date_time_and_value_date_fallback(tmp_path: Path) -> None:
    with_time = entry(dates="<BookgDt><DtTm>2024-03-05T09:30:00+01:00</DtTm></BookgDt>")
    value_only = entry(dates="<ValDt><Dt>2024-03-06</Dt></ValDt>", refs="<AcctSvcrRef>REF-2</AcctSvcrRef>")
    dates = [r.booked_on for r in read_payments(camt(tmp_path, with_time, value_only))]
    assert dates == [date(2024, 3, 5), date(2024, 3, 6)]


# --- bad camt files ------------------------------------------------------------------------------


def test_camt_in_wrong_namespace_names_the_namespace(tmp_path: Path) -> None:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"
    [problem] = problems_of(camt(tmp_path, entry(), namespace=ns))
    assert problem.message == f"not a camt.053 statement or camt.054 notification: namespace is '{ns}'"
    assert "camt.053.001.02" in problem.hint and "intraday" in problem.hint
    assert problem.line == 2


@pytest.mark.parametrize("version", ["01", "14"])
def test_camt053_version_outside_02_to_13_is_rejected(tmp_path: Path, version: str) -> None:
    [problem] = problems_of(camt(tmp_path, entry(), version=version))
    assert f"camt.053.001.{version}" in problem.message
    assert problem.rule == "camt/namespace"


def test_xml_without_namespace_is_rejected(tmp_path: Path) -> None:
    [problem] = problems_of(camt(tmp_path, entry(), namespace=""))
    assert "no namespace" in problem.message


def test_malformed_xml_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text('<?xml version="1.0"?>\n<Document>\n  <Stmt></Stmtx>\n</Document>\n')
    [problem] = problems_of(path)
    assert (problem.line, problem.col, problem.rule) == (3, 11, "camt/xml")
    assert problem.message.startswith("malformed XML")


def test_doctype_is_rejected_before_entities_can_expand(tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n<Document>&lol2;</Document>\n')
    path = tmp_path / "bomb.xml"
    path.write_text(bomb)
    [problem] = problems_of(path)
    assert (problem.line, problem.rule) == (2, "camt/doctype")
    assert "DOCTYPE" in problem.message


@pytest.mark.parametrize(("amount", "ccy", "rule"), [
    ("-5.00", "EUR", "input/negative"),
    ("12,50", "EUR", "input/decimal"),
    ("lots", "EUR", "input/decimal"),
    ("10.00", "EUX", "input/currency"),
    ("10.001", "EUR", "input/precision"),
])
def test_bad_entry_amount_names_entry_and_line(tmp_path: Path, amount: str, ccy: str, rule: str) -> None:
    path = camt(tmp_path, entry(refs="<AcctSvcrRef>OK</AcctSvcrRef>"), entry(amount=amount, ccy=ccy))
    [problem] = problems_of(path)
    assert problem.message.startswith("entry 2: amount:")
    assert (problem.line, problem.rule) == (6, rule)


def test_bad_booking_date_is_a_problem(tmp_path: Path) -> None:
    [problem] = problems_of(camt(tmp_path, entry(dates="<BookgDt><Dt>01.03.2024</Dt></BookgDt>")))
    assert "entry 1: booking date" in problem.message and problem.hint.startswith("write 2024-03-01")


def test_entry_without_any_reference_is_still_read(tmp_path: Path) -> None:
    [record] = read_payments(camt(tmp_path, entry(refs="", details=details(tx(e2e="NOTPROVIDED")))))
    assert (record.amount, record.end_to_end_id, record.problem) == (Decimal("100.00"), "", "")


def test_repeated_bank_reference_in_one_statement_keeps_both_entries_and_flags_the_second(tmp_path: Path) -> None:
    first, second = read_payments(camt(tmp_path, entry(), entry()))
    assert first.external_id == "REF-1" and not first.problem
    assert second.external_id != "REF-1" and second.problem == "bank reference 'REF-1' also used by entry 1"


def test_all_bad_entries_are_reported_together(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(amount="x"), entry(ccy="XXY", refs="<AcctSvcrRef>B</AcctSvcrRef>"),
                entry(ind="SIDEWAYS"))
    assert [p.message.split(":")[0] for p in problems_of(path)] == ["entry 1", "entry 2", "entry 3"]


# --- canonical CSV / XLSX ------------------------------------------------------------------------


def test_duplicate_id_in_csv_names_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,date,amount,currency\nA,2024-03-01,1.00,EUR\nB,2024-03-01,1.00,EUR\nA,2024-03-02,2.00,EUR\n")
    [problem] = problems_of(path)
    assert (problem.line, problem.col) == (4, 1)
    assert problem.message == "id 'A' is used twice (first on line 2)"


def test_payments_csv_missing_required_column_stops_with_one_problem_per_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id;amount\nA;1.00\n")
    messages = [p.message for p in problems_of(path)]
    assert messages == ["missing required column 'currency'", "missing required column 'date'"]


def test_every_bad_csv_value_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id;date;amount;currency\nA;2024/03/01;1.00;EUR\nB;2024-03-01;-1.00;EUR\n"
                    "C;2024-03-01;1.00;EURO\nD;2024-03-01;1.005;EUR\n;2024-03-01;1.00;EUR\n")
    found = [(p.line, p.col, p.rule) for p in problems_of(path)]
    assert found == [(2, 2, "input/date"), (3, 3, "input/negative"), (4, 4, "input/currency"),
                     (5, 3, "input/precision"), (6, 1, "input/required")]


def test_payments_xlsx_is_read_with_excel_row_numbers(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "date", "amount", "currency", "reference", "payer_name", "payer_iban"])
    sheet.append(["X-1", date(2024, 3, 1), 1234.5, "eur", "INV-9", "Kunde", "de89 3704 0044 0532 0130 00"])
    path = tmp_path / "payments.xlsx"
    book.save(path)
    assert read_payments(path) == [PaymentRecord("X-1", date(2024, 3, 1), Decimal("1234.5"), "EUR", "INV-9", "Kunde",
                                                 "DE89370400440532013000", "payments.xlsx:2")]


def test_xml_content_without_extension_is_read_as_camt(tmp_path: Path) -> None:
    path = camt(tmp_path, entry(), name="statement.dat")
    assert [r.external_id for r in read_payments(path)] == ["REF-1"]


def test_unknown_format_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DunflowError, match="unknown payments format 'mt941'"):
        read_payments(camt(tmp_path, entry()), "mt941")


# --- ISO 11649 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "valid"), [
    ("RF18539007547034", True), ("RF18 5390 0754 7034", True), ("rf22inv1004", True),
    ("RF19539007547034", False), ("RF18", False), ("INV-1004", False), ("RF22INV-1004", False),
])
def test_rf_reference_check_digits(ref: str, valid: bool) -> None:
    assert rf_reference_valid(ref) is valid
