"""ISO 20022 camt.053 statements and camt.054 notifications → a BankFile.

Only booked incoming money counts against an invoice. Debits (our own transfers, bank fees),
pending or informational entries and reversals of our own debits are counted as skipped; a booked
*debit with RvslInd=true* is a return of money we received (SEPA return, *Rücklastschrift*) and
becomes a ReturnRecord, so the invoice it paid is re-opened.

One doubtful entry never blocks a statement: an entry whose batch does not add up (charges
deducted), or whose bank reference repeats, is still recorded, with the reason, for a person
(`payments unmatched`). Only a broken file (malformed XML, an entry without amount or date) is a
located Problem. The statement's `TxsSummry` totals are checked against what was read, so a
misread or cut-off file cannot pass as a smaller one.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from dunflow.errors import InputProblems, Problem
from dunflow.formats.entries import (
    BankFile,
    PaymentRecord,
    ReturnRecord,
    compact_iban,
    position_key,
    real_ref,
)
from dunflow.formats.tables import (
    BadValue,
    require_precision,
    to_currency,
    to_date,
    to_decimal,
)
from dunflow.formats.xmlpos import Xml, parse_xml

PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt."
KINDS = {"053": ("BkToCstmrStmt", "Stmt"), "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}
VERSIONS = range(2, 14)  # .001.02 (2009) to .001.13 (2023)
EXPECTED_NAMESPACE = f"{PREFIX}053.001.02 to .13 (statement) or {PREFIX}054.001.02 to .13 (notification)"
REF_HINT = "the statement is inconsistent; ask the bank for a corrected file"


def read_camt(label: str, data: bytes) -> BankFile:
    """Every entry of every statement (or notification) of a camt.053/camt.054 document."""
    xml = parse_xml(label, data)
    namespace, kind = _check_namespace(label, xml)
    group, report = KINDS[kind]
    found = BankFile()
    top = xml.root.find(f"{{{namespace}}}{group}")
    if top is None:
        line, col = xml.where(xml.root)
        found.problems.append(Problem(label, line, col, f"no <{group}> in the document", "", "camt/structure"))
        return found
    entry_number = 0
    for element in top.findall(f"{{{namespace}}}{report}"):
        statement = _Statement(label, namespace, xml, element, found, entry_number)
        statement.read()
        entry_number = statement.number
    return found


def _check_namespace(label: str, xml: Xml) -> tuple[str, str]:
    """The camt namespace of the root and its kind ('053' or '054'), or InputProblems naming what was found."""
    match = re.fullmatch(r"\{(.*)\}(.*)", xml.root.tag)
    namespace, local = match.groups() if match else ("", xml.root.tag)
    found = re.fullmatch(re.escape(PREFIX) + r"(\d{3})\.001\.(\d{2})", namespace)
    if found and found.group(1) in KINDS and int(found.group(2)) in VERSIONS:
        if local == "Document":
            return namespace, found.group(1)
        message = f"root element is <{local}>, expected <Document>"
    else:
        what = f"namespace is '{namespace}'" if namespace else "the XML has no namespace"
        message = f"not a camt.053 statement or camt.054 notification: {what}"
    line, col = xml.where(xml.root)
    raise InputProblems([Problem(label, line, col, message, _namespace_hint(namespace), "camt/namespace")])


def _namespace_hint(namespace: str) -> str:
    expected = f"expected {EXPECTED_NAMESPACE}"
    kinds = {"camt.052": "an intraday account report", "pain.": "a payment order, not a statement"}
    for key, kind in kinds.items():
        if key in namespace:
            return f"{expected}; this file is {kind}: export the account statement (camt.053) instead"
    return expected


@dataclass(frozen=True)
class _Entry:
    """What every record of one entry shares."""

    element: ET.Element
    number: int
    money: tuple[Decimal, str]
    booked_on: date
    ref: str  # the bank's AcctSvcrRef, '' if none (or already used in this file)
    problem: str


class _Statement:
    """Walks one Stmt/Ntfctn; knows the namespace, the positions, the statement's identity."""

    def __init__(self, label: str, namespace: str, xml: Xml, element: ET.Element, found: BankFile,
                 number: int) -> None:
        self.label, self.ns, self.xml, self.element, self.found = label, namespace, xml, element, found
        self.name = Path(label).name
        self.number = number
        self.account = compact_iban(self.text(element, "Acct/Id/IBAN", "Acct/Id/Othr/Id"))
        self.statement_id = self.text(element, "Id", "ElctrncSeqNb", "LglSeqNb")
        self.credits: list[Decimal] = []  # every credit entry, and the booked ones: banks count either way
        self.booked_credits: list[Decimal] = []
        if self.account:
            found.accounts.add(self.account)

    # --- XML helpers

    def path(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))

    def find(self, element: ET.Element, path: str) -> ET.Element | None:
        return element.find(self.path(path))

    def text(self, element: ET.Element | None, *paths: str) -> str:
        """Stripped text of the first of `paths` that is present and not empty."""
        if element is None:
            return ""
        for path in paths:
            found = self.find(element, path)
            if found is not None and (found.text or "").strip():
                return (found.text or "").strip()
        return ""

    def report(self, element: ET.Element, number: int, message: str, hint: str = "", rule: str = "camt/entry") -> None:
        line, col = self.xml.where(element)
        self.found.problems.append(Problem(self.label, line, col, f"entry {number}: {message}", hint, rule))

    # --- entries

    def read(self) -> None:
        """Every Ntry in document order ('entry N' counts as a user reads the file), then the totals."""
        seen_refs: dict[str, int] = {}
        for element in self.element.findall(self.path("Ntry")):
            self.number += 1
            self.read_entry(element, self.number, seen_refs)
        self.check_summary()

    def read_entry(self, element: ET.Element, number: int, seen_refs: dict[str, int]) -> None:
        direction = self.direction(element, number)
        status = self.status(element, number)
        money = self.amount(element, self.find(element, "Amt"), number)
        booked_on = self.booking_date(element, number)
        if direction is None or status is None or money is None or booked_on is None:
            return
        reversal = self.text(element, "RvslInd").lower() in ("true", "1")
        if direction == "CRDT":
            self.credits.append(money[0])
            if status == "BOOK":
                self.booked_credits.append(money[0])
        if status != "BOOK":
            self.found.skipped["pending" if status == "PDNG" else "informational"] += 1
        elif direction == "DBIT" and reversal:
            self.found.returns.append(self.return_record(element, number, money, booked_on))
        elif direction == "DBIT":
            self.found.skipped["debit"] += 1
        elif reversal:
            self.found.skipped["reversal"] += 1
        elif money[0] == 0:
            self.found.skipped["zero"] += 1
        else:
            entry = self.entry(element, number, money, booked_on, seen_refs)
            self.found.records.extend(self.credit_records(entry))

    def direction(self, element: ET.Element, number: int) -> str | None:
        direction = self.text(element, "CdtDbtInd")
        if direction in ("CRDT", "DBIT"):
            return direction
        self.report(element, number, f"CdtDbtInd is '{direction}', expected CRDT or DBIT")
        return None

    def status(self, element: ET.Element, number: int) -> str | None:
        """BOOK, PDNG, INFO…: `Sts/Cd` (v08+), `Sts/Prtry` (legal from v08) or plain `Sts` (v02–v07)."""
        status = self.text(element, "Sts/Cd", "Sts/Prtry", "Sts").upper()
        if status:
            return status
        self.report(element, number, "entry has no status (Sts)", "a statement entry is BOOK, PDNG or INFO")
        return None

    def amount(self, entry: ET.Element, element: ET.Element | None, number: int) -> tuple[Decimal, str] | None:
        """`Amt` with its `Ccy`, checked like a CSV amount (dot decimal, known currency, minor unit)."""
        if element is None or not (element.text or "").strip():
            self.report(entry, number, "entry has no amount (Amt)")
            return None
        try:
            currency = to_currency(element.get("Ccy", ""))
            return require_precision(to_decimal((element.text or "").strip()), currency), currency
        except BadValue as bad:
            self.report(element, number, f"amount: {bad.message}", bad.hint, bad.rule)
            return None

    def booking_date(self, element: ET.Element, number: int) -> date | None:
        """BookgDt (Dt, or the date part of DtTm), falling back to the value date ValDt."""
        text = self.text(element, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
        if not text:
            self.report(element, number, "entry has neither a booking date (BookgDt) nor a value date (ValDt)")
            return None
        try:
            return to_date(text[:10])
        except BadValue as bad:
            self.report(element, number, f"booking date: {bad.message}", bad.hint, bad.rule)
            return None

    def entry(self, element: ET.Element, number: int, money: tuple[Decimal, str], booked_on: date,
              seen_refs: dict[str, int]) -> _Entry:
        """The entry's bank reference, unless an earlier entry of this file used it (then it waits for a person)."""
        ref = real_ref(self.text(element, "AcctSvcrRef"))
        problem = ""
        if ref and ref in seen_refs:
            problem = f"bank reference '{ref}' also used by entry {seen_refs[ref]}"
            ref = ""
        if ref:
            seen_refs[ref] = number
        return _Entry(element, number, money, booked_on, ref, problem)

    def key(self, entry: _Entry, part: str = "") -> str:
        """The entry's idempotency key: the bank's reference, else its position in this statement."""
        if entry.ref:
            return f"{entry.ref}{part}"
        position = f"{entry.number}{part}"
        return position_key(self.account, self.statement_id, position, entry.money[0], entry.booked_on)

    def credit_records(self, entry: _Entry) -> list[PaymentRecord]:
        """One record per transaction of a batch whose parts add up; otherwise one for the entry."""
        details = entry.element.findall(self.path("NtryDtls/TxDtls"))
        if len(details) > 1 and not entry.problem:
            split, why = self.split(entry, details)
            if split is not None:
                return [self.record(entry, money, [tx], f"/{index}")
                        for index, (tx, money) in enumerate(split, start=1)]
            if why:
                entry = _Entry(entry.element, entry.number, entry.money, entry.booked_on, entry.ref, why)
        return [self.record(entry, entry.money, details, "")]

    def split(self, entry: _Entry, details: list[ET.Element]
              ) -> tuple[list[tuple[ET.Element, tuple[Decimal, str]]] | None, str]:
        """Per-transaction amounts of a batch, or None and why not ('' when the parts carry no amounts)."""
        elements = [self.tx_amount(tx) for tx in details]
        if any(element is None for element in elements):
            return None, ""
        amounts = [self.amount(tx, element, entry.number) for tx, element in zip(details, elements)]
        if any(amount is None for amount in amounts):
            return None, ""
        if any(amount and amount[1] != entry.money[1] for amount in amounts):
            return None, f"the transactions of this batch are not all in {entry.money[1]}"
        total = sum((amount[0] for amount in amounts if amount), Decimal(0))
        if total != entry.money[0]:
            return None, (f"the transactions add up to {total}, the entry says {entry.money[0]} "
                          "(charges deducted?): split it by hand")
        return [(tx, amount) for tx, amount in zip(details, amounts) if amount], ""

    def tx_amount(self, tx: ET.Element) -> ET.Element | None:
        """TxDtls/Amt (camt.053.001.08+) or AmtDtls/TxAmt/Amt (all versions)."""
        found = self.find(tx, "Amt")
        return found if found is not None else self.find(tx, "AmtDtls/TxAmt/Amt")

    def record(self, entry: _Entry, money: tuple[Decimal, str], details: list[ET.Element],
               part: str) -> PaymentRecord:
        first = details[0] if details else None
        tx_ref = real_ref(self.text(first, "Refs/AcctSvcrRef")) if part else ""
        external_id = f"{tx_ref}" if tx_ref and not entry.ref else self.key(entry, part)
        reference = " ".join(filter(None, (self.remittance(tx) for tx in details)))
        reference = reference or self.text(entry.element, "AddtlNtryInf")
        payer = self.text(first, "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm", "RltdPties/UltmtDbtr/Nm",
                          "RltdPties/UltmtDbtr/Pty/Nm")
        iban = self.text(first, "RltdPties/DbtrAcct/Id/IBAN")
        end_to_end = real_ref(self.text(first, "Refs/EndToEndId")) if len(details) <= 1 else ""
        source = f"{self.name}:entry {entry.number}"
        return PaymentRecord(external_id, entry.booked_on, *money, reference, payer, compact_iban(iban), source,
                             end_to_end, entry.problem)

    def remittance(self, tx: ET.Element) -> str:
        """The structured creditor reference (RF…, QR reference, betalingskenmerk), else the free text.

        Free text is every Ustrd line; banks that put it elsewhere (ABN AMRO, PostFinance) are read from
        AddtlTxInf.
        """
        structured = self.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
        if structured:
            return structured
        lines = tx.findall(self.path("RmtInf/Ustrd"))
        text = " ".join((line.text or "").strip() for line in lines if (line.text or "").strip())
        return text or self.text(tx, "AddtlTxInf")

    def return_record(self, element: ET.Element, number: int, money: tuple[Decimal, str],
                      booked_on: date) -> ReturnRecord:
        """A returned credit: the original is named by its EndToEndId (or the bank's reference of it)."""
        tx = self.find(element, "NtryDtls/TxDtls")
        original = real_ref(self.text(tx, "Refs/EndToEndId", "Refs/InstrId", "Refs/TxId"))
        reason = " ".join(filter(None, (self.text(tx, "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry"),
                                        self.text(tx, "RtrInf/AddtlInf"), self.text(element, "AddtlNtryInf"))))
        ref = real_ref(self.text(element, "AcctSvcrRef"))
        key = ref or position_key(self.account, self.statement_id, str(number), money[0], booked_on)
        return ReturnRecord(key, booked_on, *money, original, reason or "return (no reason given)",
                            f"{self.name}:entry {number}")

    # --- totals

    def check_summary(self) -> None:
        """`TxsSummry/TtlCdtNtries` (count and sum of credit entries) must agree with what was read."""
        summary = self.find(self.element, "TxsSummry/TtlCdtNtries")
        if summary is None:
            return
        count, total = self.text(summary, "NbOfNtries"), self.text(summary, "Sum")
        readings = [(len(read), sum(read, Decimal(0))) for read in (self.credits, self.booked_credits)]
        line, col = self.xml.where(summary)
        if count.isdigit() and all(int(count) != number for number, _ in readings):
            message = f"the statement says {count} credit entries (TxsSummry), {readings[0][0]} were read"
            self.found.problems.append(Problem(self.label, line, col, message, REF_HINT, "camt/summary"))
        elif total and all(_decimal_or_none(total) != read_total for _, read_total in readings):
            message = f"the statement's credits add up to {total} (TxsSummry), the entries to {readings[0][1]}"
            self.found.problems.append(Problem(self.label, line, col, message, REF_HINT, "camt/summary"))


def _decimal_or_none(text: str) -> Decimal | None:
    try:
        return to_decimal(text)
    except BadValue:
        return None

