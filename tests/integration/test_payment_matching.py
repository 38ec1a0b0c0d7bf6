"""Conservative matching that learns who pays (issue 14), through the CLI on SQLite and PostgreSQL.

A bare number in a remittance text is as often a customer, contract or order number as an invoice
number; it names an invoice only with more evidence. RF references count only with right check
digits. Debtors' IBANs, given in the debtor import or learned when a person assigns a payment, find
the debtor of a payment without a usable reference.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.test_payments import Dunflow, dunflow, open_amount, rf  # noqa: F401 - fixture

NUMERIC = ["number,debtor_code,currency,amount,issue_date,due_date,debtor_name,debtor_type,debtor_country",
           "1002,DN1,EUR,300.00,2026-09-01,2026-10-01,Numeric One GmbH,business,DE",
           "1003,DN2,EUR,450.00,2026-09-01,2026-10-01,Numeric Two GmbH,business,DE"]
PAYER_IBAN = "DE44500105175407324931"


@pytest.fixture
def numbered(dunflow: Dunflow) -> Dunflow:
    dunflow("import", "invoices", dunflow.file("numeric.csv", "\n".join(NUMERIC) + "\n"))
    return dunflow


def pay(cli: Dunflow, reference: str, amount: str = "120.00", payer: str = "Unrelated AG", iban: str = "") -> None:
    path = cli.pay_csv("bank.csv", f"BK-{abs(hash((reference, amount, iban)))},2026-10-05,{amount},EUR,"
                                   f"{reference},{payer},{iban}", header="id,date,amount,currency,reference,"
                                                                         "payer_name,payer_iban")
    cli("import", "payments", path)


def test_a_bare_number_from_an_unrelated_payer_is_not_taken_for_an_invoice(numbered: Dunflow) -> None:
    pay(numbered, "Kd-Nr 1002 Abschlag Maerz Vertrag 1003")
    assert (open_amount(numbered, "1002"), open_amount(numbered, "1003")) == (Decimal("300.00"), Decimal("450.00"))
    [entry] = numbered.unmatched()
    assert entry["status"] == "unmatched"


@pytest.mark.parametrize(("reference", "amount", "payer"), [
    ("Rechnung 1002 Abschlag", "120.00", "Unrelated AG"),  # written as an invoice number
    ("Kd-Nr 1002", "120.00", "Numeric One GmbH"),  # the debtor's own name
    ("Zahlung 1002", "300.00", "Unrelated AG"),  # exactly the open amount
])
def test_a_bare_number_names_an_invoice_with_more_evidence(numbered: Dunflow, reference: str, amount: str,
                                                          payer: str) -> None:
    pay(numbered, reference, amount, payer)
    assert open_amount(numbered, "1002") == Decimal("300.00") - Decimal(amount)


def test_an_rf_reference_with_wrong_check_digits_is_not_trusted(dunflow: Dunflow) -> None:
    right = rf("P200")
    wrong = f"RF{(int(right[2:4]) + 1) % 100:02d}P200"
    pay(dunflow, wrong, "77.00")
    assert open_amount(dunflow, "P-200") == Decimal("500.00")
    pay(dunflow, right, "77.00")
    assert open_amount(dunflow, "P-200") == Decimal("423.00")


def test_a_known_iban_from_the_debtor_import_finds_the_debtor_and_confirms_a_bare_number(numbered: Dunflow) -> None:
    debtors = numbered.file("debtors.csv", "code,name,type,country,iban\n"
                                           f"DN1,Numeric One GmbH,business,DE,{PAYER_IBAN}\n")
    numbered("import", "debtors", debtors)
    pay(numbered, "Kd 1002", "50.00", "Someone", PAYER_IBAN)
    assert open_amount(numbered, "1002") == Decimal("250.00")
    pay(numbered, "Danke", "30.00", "Someone", PAYER_IBAN)
    assert open_amount(numbered, "1002") == Decimal("220.00"), "no reference at all: the IBAN names the debtor"


def test_an_iban_is_learned_when_a_payment_is_assigned_by_hand(dunflow: Dunflow) -> None:
    pay(dunflow, "Vielen Dank", "10.00", "Gamma", PAYER_IBAN)
    [entry] = dunflow.unmatched()
    dunflow("payments", "assign", str(entry["id"]), "P-300")
    pay(dunflow, "Abschlag", "20.00", "Gamma", PAYER_IBAN)
    assert open_amount(dunflow, "P-300") == Decimal("70.00")
    assert dunflow.query("SELECT iban, learned_from FROM debtor_ibans")[0][1].startswith(f"payment #{entry['id']}")


def test_an_invalid_iban_in_the_debtor_import_is_a_located_error(dunflow: Dunflow) -> None:
    path = dunflow.file("debtors.csv", "code,name,type,country,iban\nDX,X GmbH,business,DE,DE00 1234\n")
    out = dunflow("import", "debtors", path, code=1)
    assert "debtors.csv:2:5" in out and "is not a valid IBAN" in out


def test_a_swiss_qr_reference_names_a_numeric_invoice_when_its_check_digit_is_right(numbered: Dunflow) -> None:
    from stdnum.ch import esr

    body = "1002".rjust(26, "0")
    right = body + esr.calc_check_digit(body)
    wrong = body + str((int(esr.calc_check_digit(body)) + 1) % 10)
    pay(numbered, wrong, "40.00")
    assert open_amount(numbered, "1002") == Decimal("300.00")
    pay(numbered, right, "40.00")
    assert open_amount(numbered, "1002") == Decimal("260.00")
