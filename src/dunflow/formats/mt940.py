"""SWIFT MT940 statements → a BankFile, read with the `mt-940` library.

The library parses the tags (`:61:` entries, balances, the German `?20…?32` structure of `:86:`);
dunflow adds what it does not know: the Dutch banks' `:86:` structure (`/EREF/…/CNTP/iban/bic/name/…
/REMI/USTD//text/`, also `/IBAN/`, `/NAME/`, `/RTRN/` of ABN AMRO, ING, Rabobank, Knab, ASN,
Triodos), per-statement keys, and the balance check (opening + entries = closing) that proves the
file was read completely.

Each statement (from one `:20:` to the next) is parsed on its own so its account (`:25:`) and
number (`:28C:`) name its entries. Entry kinds follow the mark of `:61:`: C a credit, D a debit,
RC a reversed credit (a return of money we received), RD a reversed debit (skipped).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import mt940

from dunflow.errors import Problem
from dunflow.formats.entries import (
    BankFile,
    PaymentRecord,
    ReturnRecord,
    compact_iban,
    position_key,
    real_ref,
)
from dunflow.formats.tables import BadValue, check_size, require_precision, to_currency

STATEMENT_START = re.compile(r"^:20:", re.MULTILINE)
ENTRY_TAG = re.compile(r"^:61:", re.MULTILINE)
DUTCH_KEYS = ("EREF", "MARF", "CSID", "CNTP", "REMI", "ORDP", "BENM", "ULTC", "ULTD", "ULTB", "PURP", "RTRN",
              "TRTP", "IBAN", "BIC", "NAME", "ADDR", "ID", "USTD", "STRD", "CUR", "ISSR", "SVCL", "CDTRREF")
DUTCH_FIELD = re.compile(r"(?=/(" + "|".join(DUTCH_KEYS) + r")/)")
HINT = "the file is cut off or was changed by hand; export the statement again (MT940 or camt.053)"


def looks_like_mt940(text: str) -> bool:
    """An MT940 file has a `:20:` and a `:61:` or `:60F:` tag at the start of a line (ING starts with `:940:`)."""
    return bool(STATEMENT_START.search(text)) and bool(re.search(r"^:(61|60[FM]):", text, re.MULTILINE))


def read_mt940(label: str, data: bytes) -> BankFile:
    """Every statement of an MT940 file; ISO-8859-1 is assumed where UTF-8 fails (banks write either)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("iso-8859-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    found = BankFile()
    starts = [m.start() for m in STATEMENT_START.finditer(text)] or [0]
    position = 0
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        line = text.count("\n", 0, start) + 1
        position = _Statement(label, text[start:end], line, found, position).read()
    if not found.records and not found.returns and not sum(found.skipped.values()) and not found.problems:
        found.problems.append(Problem(label, 1, 0, "no MT940 entries (:61:) found", HINT, "mt940/empty"))
    return found


@dataclass(frozen=True)
class Details:
    """What `:86:` says about a transaction: the remittance text, the payer, the payer's references."""

    remittance: str = ""
    payer_name: str = ""
    payer_iban: str = ""
    end_to_end_id: str = ""
    return_reason: str = ""


def dutch_details(text: str) -> Details | None:
    """The `/KEY/value/` structure of Dutch banks' `:86:`, or None if `text` does not use it."""
    text = text.replace("\n", "")
    marks = [(m.start(), m.group(1)) for m in DUTCH_FIELD.finditer(text)]
    if len(marks) < 2:
        return None
    fields: dict[str, str] = {}
    for (start, key), (end, _) in zip(marks, [*marks[1:], (len(text), "")]):
        fields.setdefault(key, text[start + len(key) + 2:end].strip("/ "))
    counterparty = fields.get("CNTP", "").split("/") + ["", "", ""]
    party = fields.get("ORDP", "") or fields.get("BENM", "")
    name = fields.get("NAME") or counterparty[2] or party.removeprefix("/NAME/")
    remittance = fields.get("USTD") or fields.get("CDTRREF") or fields.get("CUR") or fields.get("REMI", "")
    return Details(remittance.strip(), name.strip(), compact_iban(fields.get("IBAN") or counterparty[0]),
                   real_ref(fields.get("EREF", "")), fields.get("RTRN", "").strip())


def german_details(data: dict[str, Any]) -> Details | None:
    """The `?20…?32` structure (GVC) the library already parsed into purpose/applicant fields."""
    purpose = " ".join(str(data.get(key) or "") for key in ("purpose", "additional_purpose")).strip()
    if not purpose and not data.get("applicant_name"):
        return None
    code = str(data.get("return_debit_notes") or "")
    return Details(purpose, str(data.get("applicant_name") or ""), compact_iban(str(data.get("applicant_iban") or "")),
                   "", code)


class _Statement:
    """One `:20:` … `:62F:` block: parsed by the library, keyed and checked here."""

    def __init__(self, label: str, text: str, first_line: int, found: BankFile, position: int) -> None:
        self.label, self.text, self.first_line, self.found = label, text, first_line, found
        self.name = Path(label).name
        self.position = position

    def read(self) -> int:
        """Read the statement's entries into `found`; returns the running entry position."""
        transactions = mt940.models.Transactions(
            processors={"post_transaction_details": [mt940.processors.transaction_details_post_processor]},
            options=mt940.processors.Options(applicant_iban=True))
        try:
            transactions.parse(self.text)
        except (RuntimeError, ValueError) as err:
            self.problem(self.line_of(err), f"unreadable MT940: {str(err.args[0])[:120]}", "mt940/syntax")
            return self.position
        account = compact_iban(str(transactions.data.get("account_identification") or "").split("/")[0])
        if account:
            self.found.accounts.add(account)
        number = str(transactions.data.get("statement_number") or "")
        lines = [self.first_line + self.text.count("\n", 0, m.start()) for m in ENTRY_TAG.finditer(self.text)]
        signed: list[Decimal] = []
        for index, transaction in enumerate(transactions):
            self.position += 1
            line = lines[index] if index < len(lines) else self.first_line
            amount = self.entry(transaction.data, account, number, line)
            if amount is not None:
                signed.append(amount)
        self.check_balance(transactions.data, signed)
        return self.position

    def line_of(self, err: Exception) -> int:
        value = str(err.args[2]) if len(err.args) > 2 else ""
        at = self.text.find(value) if value else -1
        return self.first_line + (self.text.count("\n", 0, at) if at >= 0 else 0)

    def problem(self, line: int, message: str, rule: str) -> None:
        self.found.problems.append(Problem(self.label, line, 0, message, HINT, rule))

    def entry(self, data: dict[str, Any], account: str, number: str, line: int) -> Decimal | None:
        """Sort one `:61:` into a record, a return or a skip count; returns its signed amount."""
        try:
            currency = to_currency(str(data.get("currency") or ""))
            signed = Decimal(data["amount"].amount)
            amount = require_precision(check_size(abs(signed)), currency)
        except (BadValue, KeyError, AttributeError) as bad:
            self.problem(line, f"entry amount: {getattr(bad, 'message', bad)}", "mt940/amount")
            return None
        booked_on = _as_date(data.get("entry_date") or data.get("date"))
        status = str(data.get("status") or "")
        details = self.details(data)
        bank_ref = real_ref(str(data.get("bank_reference") or ""))
        key = f"{account}/{bank_ref}" if bank_ref else position_key(account, number, str(self.position), amount,
                                                                      booked_on)
        source = f"{self.name}:{line}"
        if status == "RC" or (status == "D" and details.return_reason):
            self.found.returns.append(ReturnRecord(key, booked_on, amount, currency, details.end_to_end_id,
                                                   details.return_reason or "return (no reason given)", source))
        elif status in ("D", "RD"):
            self.found.skipped["debit" if status == "D" else "reversal"] += 1
        elif amount == 0:
            self.found.skipped["zero"] += 1
        else:
            self.found.records.append(PaymentRecord(key, booked_on, amount, currency, details.remittance,
                                                    details.payer_name, details.payer_iban, source,
                                                    details.end_to_end_id))
        return signed

    def details(self, data: dict[str, Any]) -> Details:
        text = str(data.get("transaction_details") or "")
        found = dutch_details(text) or german_details(data)
        if found is not None:
            return found
        customer = real_ref(str(data.get("customer_reference") or ""))
        return Details(" ".join(filter(None, (text.replace("\n", " ").strip(), customer))))

    def check_balance(self, data: dict[str, Any], signed: list[Decimal]) -> None:
        """Opening balance + the entries = closing balance, or the file was not read completely."""
        opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
        closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
        if opening is None or closing is None:
            return
        expected = Decimal(closing.amount.amount) - Decimal(opening.amount.amount)
        if sum(signed, Decimal(0)) != expected:
            line = self.first_line + self.text.count("\n", 0, max(self.text.find(":62"), 0))
            message = (f"the entries add up to {sum(signed, Decimal(0))}, the balances differ by {expected} "
                       "(opening :60F: to closing :62F:)")
            self.problem(line, message, "mt940/balance")


def _as_date(value: Any) -> date:
    return date(value.year, value.month, value.day)
