"""The formats finance teams get: MT940 (with the Dutch `:86:` structure), camt.054, ZIP, bank CSV profiles,
and recognition by content. Every file here is written for this test from the SWIFT MT940 and ISO 20022 layouts.
"""
from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from dunflow.errors import InputProblems
from dunflow.formats.bankcsv import CsvProfile
from dunflow.formats.bankfiles import read_bank_file, rf_reference_valid, sniff_payments_format

MT940_ING = """:940:
:20:INGEB
:25:NL20INGB0001234567
:28C:00042
:60F:C261001EUR1000,00
:61:2610051005C250,00NTRFEREF//2610050001
/TRCD/00100/
:86:/EREF/RE-2024-001//CNTP/NL91ABNA0417164300/ABNANL2A/Beta BV///REMI/USTD//Factuur RE-2024-001/
:61:2610051005D12,50NTRFNONREF//2610050002
:86:/TRTP/SEPA OVERBOEKING/REMI/USTD//Kosten/
:61:2610061006D80,00NDDTNONREF//2610060003
:86:/RTRN/MD06/EREF/DD-55//CNTP/NL91ABNA0417164300/ABNANL2A/Beta BV///REMI/USTD//Storno/
:62F:C261006EUR1157,50
-
"""
MT940_SPARKASSE = """:20:STARTUMS
:25:37040044/0532013000
:28C:00012/001
:60F:C261001EUR500,00
:61:2610021002CR119,00N051NONREF
:86:166?00GUTSCHRIFT?20RE 2026-0042 Kunde 4711?21Danke?32Anna Becker?31DE25370501981932558804
:62F:C261002EUR619,00
-
"""


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_mt940_with_dutch_structured_86_gives_credits_returns_and_skips(tmp_path: Path) -> None:
    found = read_bank_file(write(tmp_path, "ing.sta", MT940_ING))
    assert found.problems == []
    [credit] = found.records
    assert (credit.external_id, credit.booked_on, credit.amount, credit.currency) == (
        "NL20INGB0001234567/2610050001", date(2026, 10, 5), Decimal("250.00"), "EUR")
    assert (credit.reference, credit.payer_name, credit.payer_iban, credit.end_to_end_id) == (
        "Factuur RE-2024-001", "Beta BV", "NL91ABNA0417164300", "RE-2024-001")
    [returned] = found.returns
    assert (returned.amount, returned.original, returned.reason) == (Decimal("80.00"), "DD-55", "MD06")
    assert found.skipped == {"debit": 1} and found.accounts == {"NL20INGB0001234567"}


def test_mt940_with_german_structured_86_reads_purpose_and_payer(tmp_path: Path) -> None:
    [credit] = read_bank_file(write(tmp_path, "umsatz.txt", MT940_SPARKASSE)).records
    assert (credit.amount, credit.payer_name, credit.payer_iban) == (
        Decimal("119.00"), "Anna Becker", "DE25370501981932558804")
    assert "RE 2026-0042" in credit.reference


def test_mt940_whose_entries_do_not_match_the_balances_is_refused(tmp_path: Path) -> None:
    cut = MT940_ING.replace(":62F:C261006EUR1157,50", ":62F:C261006EUR1407,50")
    [problem] = read_bank_file(write(tmp_path, "ing.sta", cut)).problems
    assert problem.rule == "mt940/balance" and problem.line == 13  # the :62F: line


def test_camt054_notification_credit_with_a_qr_reference_is_read(tmp_path: Path) -> None:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"
    xml = (f'<?xml version="1.0"?><Document xmlns="{ns}"><BkToCstmrDbtCdtNtfctn><Ntfctn><Id>N-1</Id>'
           "<Ntry><Amt Ccy=\"CHF\">199.95</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
           "<BookgDt><Dt>2026-10-05</Dt></BookgDt><NtryDtls><TxDtls><RmtInf><Strd><CdtrRefInf>"
           "<Ref>210000000003139471430009017</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls>"
           "</Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>")
    [credit] = read_bank_file(write(tmp_path, "n.xml", xml)).records
    assert (credit.amount, credit.currency, credit.reference) == (
        Decimal("199.95"), "CHF", "210000000003139471430009017")


def test_remittance_falls_back_to_additional_transaction_and_entry_information(tmp_path: Path) -> None:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
    entry = ("<Ntry><Amt Ccy=\"EUR\">{amt}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
             "<BookgDt><Dt>2026-10-05</Dt></BookgDt>{extra}</Ntry>")
    xml = (f'<Document xmlns="{ns}"><BkToCstmrStmt><Stmt><Id>S</Id>'
           + entry.format(amt="1.00", extra="<AddtlNtryInf>/REMI/INV-7</AddtlNtryInf>")
           + entry.format(amt="2.00", extra="<NtryDtls><TxDtls><AddtlTxInf>Rechnung INV-8</AddtlTxInf></TxDtls>"
                                             "</NtryDtls>")
           + "</Stmt></BkToCstmrStmt></Document>")
    records = read_bank_file(write(tmp_path, "s.xml", xml)).records
    assert [r.reference for r in records] == ["/REMI/INV-7", "Rechnung INV-8"]


def test_camt053_statements_inside_a_zip_are_all_read_and_located_by_member(tmp_path: Path) -> None:
    ns = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
    doc = (f'<Document xmlns="{ns}"><BkToCstmrStmt><Stmt><Id>{{id}}</Id><Ntry><Amt Ccy="EUR">{{amt}}</Amt>'
           "<CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-10-05</Dt></BookgDt>"
           "<AcctSvcrRef>{id}-1</AcctSvcrRef></Ntry></Stmt></BkToCstmrStmt></Document>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("2026-10-05.xml", doc.format(id="A", amt="10.00"))
        archive.writestr("2026-10-06.xml", doc.format(id="B", amt="20.00"))
    path = write(tmp_path, "camt.zip", buffer.getvalue())
    found = read_bank_file(path)
    assert [(r.external_id, r.amount) for r in found.records] == [("A-1", Decimal("10.00")), ("B-1", Decimal("20.00"))]
    assert found.records[1].source == "camt.zip[2026-10-06.xml]:entry 1"


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("statement.txt", '<?xml version="1.0"?><Document/>', "camt"),
    ("export.csv", MT940_ING, "mt940"),
    ("payments.xml", "id,date,amount,currency\n", "csv"),
])
def test_format_is_recognised_by_content_not_by_name(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = write(tmp_path, name, content)
    assert sniff_payments_format(path, path.read_bytes()) == expected


@pytest.mark.parametrize(("name", "content", "format_name"), [
    ("bank.ofx", "OFXHEADER:100\nDATA:OFXSGML\n<OFX><BANKMSGSRSV1>", "OFX"),
    ("bank.xml", '<?xml version="1.0"?>\n<OFX><BANKMSGSRSV1/></OFX>', "OFX"),
    ("bank.qif", "!Type:Bank\nD03/10/2026\nT-12.50\n^\n", "QIF"),
])
def test_unsupported_formats_are_named_with_what_to_export(tmp_path: Path, name: str, content: str,
                                                           format_name: str) -> None:
    with pytest.raises(InputProblems) as caught:
        read_bank_file(write(tmp_path, name, content))
    [problem] = caught.value.problems
    assert problem.message == f"format {format_name} is not supported"
    assert "camt.053 or MT940" in problem.hint


def test_ing_nl_csv_preset_reads_af_bij_and_decimal_commas(tmp_path: Path) -> None:
    export = ('"Datum";"Naam / Omschrijving";"Rekening";"Tegenrekening";"Code";"Af Bij";"Bedrag (EUR)";'
              '"Mutatiesoort";"Mededelingen"\n'
              '"20261005";"Beta BV";"NL20INGB0001234567";"NL91ABNA0417164300";"OV";"Bij";"1.250,50";'
              '"Overschrijving";"Factuur P-200"\n'
              '"20261005";"Bank";"NL20INGB0001234567";"";"DV";"Af";"2,50";"Diversen";"Kosten"\n')
    found = read_bank_file(write(tmp_path, "ing.csv", export.encode("iso-8859-1")), profile="ing-nl")
    [credit] = found.records
    assert (credit.booked_on, credit.amount, credit.currency, credit.reference, credit.payer_iban) == (
        date(2026, 10, 5), Decimal("1250.50"), "EUR", "Factuur P-200", "NL91ABNA0417164300")
    assert found.skipped == {"debit": 1}
    again = read_bank_file(write(tmp_path, "ing2.csv", export.encode("iso-8859-1")), profile="ing-nl")
    assert again.records[0].external_id == credit.external_id, "the same export gives the same keys"


def test_project_csv_profile_finds_the_header_below_title_rows_and_reads_s_h(tmp_path: Path) -> None:
    profile = CsvProfile.from_config({
        "columns": {"date": "Buchungstag", "amount": "Umsatz", "direction": "S/H", "reference": ["VWZ1", "VWZ2"]},
        "encoding": "iso-8859-1", "date_format": "%d.%m.%y", "credit": ["H"], "currency": "EUR"})
    export = ("Umsatzanzeige;Konto 123\nZeitraum;01.10.26;31.10.26\n\nBuchungstag;Umsatz;S/H;VWZ1;VWZ2\n"
              "05.10.26;119,00;H;Rechnung;P-100\n06.10.26;5,00;S;Gebühr;\n")
    found = read_bank_file(write(tmp_path, "bank.csv", export.encode("iso-8859-1")), profiles={"hausbank": profile},
                           profile="hausbank")
    [credit] = found.records
    assert (credit.booked_on, credit.amount, credit.reference) == (date(2026, 10, 5), Decimal("119.00"),
                                                                    "Rechnung P-100")
    assert found.skipped == {"debit": 1}


def test_rf_check_digits_come_from_iso_11649() -> None:
    assert rf_reference_valid("RF18 5390 0754 7034") and not rf_reference_valid("RF19539007547034")


def test_abn_amro_tab_preset_without_header_reads_the_sepa_fields_of_the_description(tmp_path: Path) -> None:
    export = ("123456789\tEUR\t20261005\t1000,00\t1500,00\t20261005\t500,00\t"
              "/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/Beta BV/REMI/Factuur P-200/EREF/E-1\n"
              "123456789\tEUR\t20261005\t1500,00\t1487,50\t20261005\t-12,50\tKosten\n")
    found = read_bank_file(write(tmp_path, "abn.tab", export), profile="abn-amro-tab")
    [credit] = found.records
    assert (credit.amount, credit.reference, credit.payer_name, credit.payer_iban, credit.end_to_end_id) == (
        Decimal("500.00"), "Factuur P-200", "Beta BV", "NL91ABNA0417164300", "E-1")
    assert credit.source == "abn.tab:1" and found.skipped == {"debit": 1}
