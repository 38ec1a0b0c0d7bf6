"""Turn a payments file (canonical CSV/XLSX or an ISO 20022 camt.053 statement) into PaymentRecords.

Only money that arrived counts against an invoice, so from a camt.053 statement only *booked
credit* entries become records. Debits (our own transfers, bank fees), pending or informational
entries and reversals are skipped silently: they are normal content of a statement, not mistakes.
Everything else that is wrong is collected per file and raised as one `InputProblems`, so a user
fixes a file in one pass and nothing is imported from a file with a mistake.

Bank files are untrusted input: a DOCTYPE (and with it any ENTITY declaration, the vehicle of
billion-laughs and external-entity attacks) is refused before expat reads a byte of it.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from xml.parsers import expat

from dunflow.errors import DunflowError, InputProblems, Problem
from dunflow.formats.tables import (
    FORMATS,
    BadValue,
    Row,
    Table,
    parse_date,
    parse_money,
    parse_table,
    read_bytes,
    require_columns,
    require_precision,
    required,
    sniff_table_format,
    to_currency,
    to_date,
    to_decimal,
)

PAYMENT_FORMATS = (*FORMATS, "camt053")
PAYMENT_COLUMNS = ("id", "date", "amount", "currency", "reference", "payer_name", "payer_iban")
REQUIRED_COLUMNS = ("id", "date", "amount", "currency")
CAMT053_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
CAMT053_VERSIONS = range(2, 14)  # .001.02 (2009) to .001.13 (2023)
EXPECTED_NAMESPACE = f"{CAMT053_PREFIX}02 to {CAMT053_PREFIX}13"
PLACEHOLDER_REFS = frozenset({"NONREF", "NOTPROVIDED", "NOT PROVIDED"})  # SEPA/MT940 "no reference"
_FORMAT_ALIASES = {"camt": "camt053", "camt.053": "camt053", "xml": "camt053"}


@dataclass(frozen=True)
class PaymentRecord:
    """One incoming payment as the bank reported it; `source` says where (`file:line`, `file:entry N`)."""

    external_id: str
    booked_on: date
    amount: Decimal
    currency: str
    reference: str
    payer_name: str
    payer_iban: str
    source: str


def read_payments(path: Path, fmt: str | None = None) -> list[PaymentRecord]:
    """Read every payment of `path` (`fmt` csv/xlsx/camt053, else sniffed); InputProblems if any is wrong."""
    data = read_bytes(path)
    named = (fmt or "").lower()
    kind = _FORMAT_ALIASES.get(named, named) or sniff_payments_format(path, data)
    if kind not in PAYMENT_FORMATS:
        raise DunflowError(f"unknown payments format {kind!r}", hint="use one of: " + ", ".join(PAYMENT_FORMATS))
    if kind == "camt053":
        records, problems = read_camt053(str(path), data)
    else:
        records, problems = _table_payments(parse_table(str(path), data, kind))
    if problems:
        raise InputProblems(problems)
    return records


def sniff_payments_format(path: Path, data: bytes) -> str:
    """'camt053' for .xml or content that starts like XML; otherwise the table format."""
    if path.suffix.lower() == ".xml":
        return "camt053"
    if path.suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm"):
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"<") or data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "camt053"
    return sniff_table_format(path, data)


def rf_reference_valid(ref: str) -> bool:
    """True for a well-formed ISO 11649 creditor reference ('RF18 5390 0754 7034' style).

    ISO 11649: 'RF' + 2 check digits + up to 21 alphanumerics; moving the first four characters to
    the end and replacing letters by numbers (A=10 … Z=35) gives a number that is 1 mod 97.
    """
    compact = ref.replace(" ", "").upper()
    if not re.fullmatch(r"RF[0-9]{2}[A-Z0-9]{1,21}", compact):
        return False
    digits = "".join(str(int(char, 36)) for char in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


# --- canonical CSV / XLSX ----------------------------------------------------------------------


def _table_payments(table: Table) -> tuple[list[PaymentRecord], list[Problem]]:
    """Rows → records; a missing required column stops early, as every row would repeat it."""
    problems = require_columns(table, REQUIRED_COLUMNS)
    if problems:
        return [], problems
    records: list[PaymentRecord] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        record = _row_payment(row, problems)
        _check_unique_id(row, first_line, problems)
        if record is not None:
            records.append(record)
    return records, problems


def _row_payment(row: Row, problems: list[Problem]) -> PaymentRecord | None:
    external_id = required(row, "id", problems)
    booked_on = parse_date(row, "date", problems)
    money = parse_money(row, "amount", "currency", problems)
    if external_id is None or booked_on is None or money is None:
        return None
    source = f"{Path(row.file).name}:{row.line}"
    return PaymentRecord(external_id, booked_on, *money, row.get("reference"), row.get("payer_name"),
                         _compact_iban(row.get("payer_iban")), source)


def _check_unique_id(row: Row, first_line: dict[str, int], problems: list[Problem]) -> None:
    """The id makes re-imports idempotent, so two rows with one id would silently lose one payment."""
    external_id = row.get("id")
    if not external_id:
        return
    if external_id in first_line:
        message = f"id '{external_id}' is used twice (first on line {first_line[external_id]})"
        hint = "each bank entry needs its own id; a repeated id is taken for a re-import and ignored"
        problems.append(Problem(row.file, row.line, row.col("id"), message, hint, "payments/duplicate-id"))
    first_line.setdefault(external_id, row.line)


def _compact_iban(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


# --- XML with positions --------------------------------------------------------------------------


class _Refused(Exception):
    """A DOCTYPE or ENTITY declaration met while parsing; carries where it was."""

    def __init__(self, what: str, line: int, col: int) -> None:
        super().__init__(what)
        self.what, self.line, self.col = what, line, col


@dataclass(frozen=True)
class _Xml:
    """A parsed document plus each element's (line, col), which ElementTree itself does not keep."""

    root: ET.Element
    positions: dict[int, tuple[int, int]]

    def where(self, element: ET.Element) -> tuple[int, int]:
        return self.positions.get(id(element), (0, 0))


def _parse_xml(label: str, data: bytes) -> _Xml:
    """Parse with expat feeding an ElementTree builder, recording positions; no DOCTYPE allowed."""
    parser = expat.ParserCreate(namespace_separator="}")
    builder = ET.TreeBuilder()
    positions: dict[int, tuple[int, int]] = {}
    _wire(parser, builder, positions)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as err:
        hint = "the file is cut off or was changed by hand; download the statement again"
        message = f"malformed XML: {expat.ErrorString(err.code)}"
        raise InputProblems([Problem(label, err.lineno, err.offset + 1, message, hint, "camt/xml")]) from None
    except _Refused as refused:
        hint = "bank statements never need one; it is refused because it can hide an XML entity attack"
        message = f"{refused.what} declarations are not allowed in bank files"
        raise InputProblems([Problem(label, refused.line, refused.col, message, hint, "camt/doctype")]) from None
    return _Xml(builder.close(), positions)


def _wire(parser: expat.XMLParserType, builder: ET.TreeBuilder, positions: dict[int, tuple[int, int]]) -> None:
    """Hook expat's callbacks to the builder; element ids stay valid because the tree keeps them alive."""
    def here() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def start(name: str, attrs: dict[str, str]) -> None:
        element = builder.start(_clark(name), {_clark(k): v for k, v in attrs.items()})
        positions[id(element)] = here()

    def refuse(what: str) -> None:
        raise _Refused(what, *here())

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = lambda *args: refuse("DOCTYPE")
    parser.EntityDeclHandler = lambda *args: refuse("ENTITY")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)


def _clark(name: str) -> str:
    """expat's 'uri}local' → ElementTree's '{uri}local'."""
    return "{" + name if "}" in name else name


# --- camt.053 ------------------------------------------------------------------------------------


def read_camt053(label: str, data: bytes) -> tuple[list[PaymentRecord], list[Problem]]:
    """Booked credit entries of a camt.053 statement, plus the Problems of the others."""
    xml = _parse_xml(label, data)
    namespace = _check_namespace(label, xml)
    camt = _Camt(label, namespace, xml)
    records: list[PaymentRecord] = []
    for number, entry in enumerate(camt.entries(), start=1):
        records.extend(camt.entry_records(entry, number))
    return records, camt.problems


def _check_namespace(label: str, xml: _Xml) -> str:
    """The camt.053 namespace of the root, or InputProblems naming what was found instead."""
    match = re.fullmatch(r"\{(.*)\}(.*)", xml.root.tag)
    namespace, local = match.groups() if match else ("", xml.root.tag)
    version = namespace.removeprefix(CAMT053_PREFIX)
    if namespace.startswith(CAMT053_PREFIX) and version.isdigit() and int(version) in CAMT053_VERSIONS:
        if local == "Document":
            return namespace
        message = f"root element is <{local}>, expected <Document>"
    else:
        found = f"namespace is '{namespace}'" if namespace else "the XML has no namespace"
        message = f"not a camt.053 statement: {found}"
    line, col = xml.where(xml.root)
    raise InputProblems([Problem(label, line, col, message, _namespace_hint(namespace), "camt/namespace")])


def _namespace_hint(namespace: str) -> str:
    expected = f"expected {EXPECTED_NAMESPACE}"
    kinds = {"camt.052": "an intraday account report", "camt.054": "a debit/credit notification",
             "pain.": "a payment order, not a statement"}
    for key, kind in kinds.items():
        if key in namespace:
            return f"{expected}; this file is {kind}: export the account statement (camt.053) instead"
    return expected


class _Camt:
    """Walks one statement document; knows the namespace, the element positions and the problems."""

    def __init__(self, label: str, namespace: str, xml: _Xml) -> None:
        self.label, self.ns, self.xml = label, namespace, xml
        self.name = Path(label).name
        self.problems: list[Problem] = []
        self.entry_of: dict[str, int] = {}  # external id -> entry number that first used it

    def path(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))

    def find(self, element: ET.Element, path: str) -> ET.Element | None:
        return element.find(self.path(path))

    def text(self, element: ET.Element, *paths: str) -> str:
        """Stripped text of the first of `paths` that is present and not empty."""
        for path in paths:
            found = self.find(element, path)
            if found is not None and (found.text or "").strip():
                return (found.text or "").strip()
        return ""

    def report(self, element: ET.Element, number: int, message: str, hint: str = "", rule: str = "camt/entry") -> None:
        line, col = self.xml.where(element)
        self.problems.append(Problem(self.label, line, col, f"entry {number}: {message}", hint, rule))

    def entries(self) -> Iterator[ET.Element]:
        """Every Ntry of every Stmt, in document order, so 'entry N' counts as a user reads the file."""
        statement = self.find(self.xml.root, "BkToCstmrStmt")
        if statement is None:
            line, col = self.xml.where(self.xml.root)
            message = "no <BkToCstmrStmt> in the document"
            self.problems.append(Problem(self.label, line, col, message, "", "camt/structure"))
            return iter(())
        return iter(statement.findall(self.path("Stmt/Ntry")))

    def entry_records(self, entry: ET.Element, number: int) -> list[PaymentRecord]:
        """The records of one entry: none unless booked credit; one per TxDtls of a batch."""
        if not self.booked_credit(entry, number):
            return []
        money = self.amount(entry, self.find(entry, "Amt"), number)
        booked_on = self.booking_date(entry, number)
        details = entry.findall(self.path("NtryDtls/TxDtls"))
        entry_ref = self.first_ref(entry, "AcctSvcrRef", "NtryRef")
        if money is None or booked_on is None:
            return []
        split = self.split(entry, number, money, details) if len(details) > 1 else None
        if split is not None:
            return self.batch_records(entry, number, entry_ref, booked_on, split)
        return self.single_record(entry, number, entry_ref, booked_on, money, details)

    def booked_credit(self, entry: ET.Element, number: int) -> bool:
        """Only booked incoming money counts; debits, pending entries and reversals are skipped."""
        direction = self.text(entry, "CdtDbtInd")
        status = self.text(entry, "Sts/Cd", "Sts")
        if direction not in ("CRDT", "DBIT"):
            self.report(entry, number, f"CdtDbtInd is '{direction}', expected CRDT or DBIT")
            return False
        if not status:
            self.report(entry, number, "entry has no status (Sts)", "a statement entry is BOOK, PDNG or INFO")
            return False
        reversal = self.text(entry, "RvslInd").lower() in ("true", "1")
        return direction == "CRDT" and status == "BOOK" and not reversal

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

    def booking_date(self, entry: ET.Element, number: int) -> date | None:
        """BookgDt (Dt, or the date part of DtTm), falling back to the value date ValDt."""
        text = self.text(entry, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
        if not text:
            self.report(entry, number, "entry has neither a booking date (BookgDt) nor a value date (ValDt)")
            return None
        try:
            return to_date(text[:10])
        except BadValue as bad:
            self.report(entry, number, f"booking date: {bad.message}", bad.hint, bad.rule)
            return None

    def first_ref(self, element: ET.Element | None, *paths: str) -> str:
        """The first real reference; banks write NONREF / NOTPROVIDED when they have none."""
        if element is None:
            return ""
        for path in paths:
            ref = self.text(element, path)
            if ref and ref.upper() not in PLACEHOLDER_REFS:
                return ref
        return ""

    def split(self, entry: ET.Element, number: int, money: tuple[Decimal, str],
              details: list[ET.Element]) -> list[tuple[ET.Element, tuple[Decimal, str]]] | None:
        """Per-transaction amounts of a batched entry, if every TxDtls has one and they add up."""
        elements = [self.tx_amount(tx) for tx in details]
        if any(element is None for element in elements):
            return None
        amounts = [self.amount(tx, element, number) for tx, element in zip(details, elements)]
        if any(amount is None or amount[1] != money[1] for amount in amounts):
            self.report(entry, number, f"the transactions of this batch are not all in {money[1]}")
            return None
        total = sum((amount[0] for amount in amounts if amount), Decimal(0))
        if total != money[0]:
            self.report(entry, number, f"the transactions add up to {total}, the entry says {money[0]}",
                        "the statement is inconsistent; ask the bank for a corrected file")
            return None
        return [(tx, amount) for tx, amount in zip(details, amounts) if amount]

    def tx_amount(self, tx: ET.Element) -> ET.Element | None:
        """TxDtls/Amt (camt.053.001.08+) or AmtDtls/TxAmt/Amt (all versions)."""
        found = self.find(tx, "Amt")
        return found if found is not None else self.find(tx, "AmtDtls/TxAmt/Amt")

    def batch_records(self, entry: ET.Element, number: int, entry_ref: str, booked_on: date,
                      split: list[tuple[ET.Element, tuple[Decimal, str]]]) -> list[PaymentRecord]:
        """One record per transaction, `<entry ref>/<n>` so each stays unique and re-importable."""
        records = []
        for index, (tx, money) in enumerate(split, start=1):
            ref = f"{entry_ref}/{index}" if entry_ref else self.tx_ref(tx)
            if not ref:
                self.report(tx, number, f"transaction {index} has no reference", _REF_HINT)
                continue
            records.append(self.record(ref, booked_on, money, [tx], number, tx))
        return records

    def single_record(self, entry: ET.Element, number: int, entry_ref: str, booked_on: date,
                      money: tuple[Decimal, str], details: list[ET.Element]) -> list[PaymentRecord]:
        ref = entry_ref or (self.tx_ref(details[0]) if len(details) == 1 else "")
        if not ref:
            self.report(entry, number, "entry has no reference (AcctSvcrRef, NtryRef, EndToEndId)", _REF_HINT)
            return []
        return [self.record(ref, booked_on, money, details, number, entry)]

    def tx_ref(self, tx: ET.Element) -> str:
        return self.first_ref(tx, "Refs/AcctSvcrRef", "Refs/EndToEndId")

    def record(self, ref: str, booked_on: date, money: tuple[Decimal, str], details: list[ET.Element],
               number: int, where: ET.Element) -> PaymentRecord:
        self.check_unique(ref, number, where)
        reference = " ".join(filter(None, (self.remittance(tx) for tx in details)))
        first = details[0] if details else None
        payer = self.text(first, "RltdPties/Dbtr/Nm", "RltdPties/Dbtr/Pty/Nm") if first is not None else ""
        iban = self.text(first, "RltdPties/DbtrAcct/Id/IBAN") if first is not None else ""
        source = f"{self.name}:entry {number}"
        return PaymentRecord(ref, booked_on, *money, reference, payer, _compact_iban(iban), source)

    def remittance(self, tx: ET.Element) -> str:
        """The structured creditor reference (RF…, betalingskenmerk) if any, else all Ustrd lines."""
        structured = self.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
        if structured:
            return structured
        lines = tx.findall(self.path("RmtInf/Ustrd"))
        return " ".join((line.text or "").strip() for line in lines if (line.text or "").strip())

    def check_unique(self, ref: str, number: int, where: ET.Element) -> None:
        """Two entries with one reference would make the second look like a re-import and vanish."""
        if ref in self.entry_of:
            hint = "the statement is inconsistent; ask the bank for a corrected file"
            message = f"reference '{ref}' was already used by entry {self.entry_of[ref]}"
            self.report(where, number, message, hint, "payments/duplicate-id")
        self.entry_of.setdefault(ref, number)


_REF_HINT = "an entry needs AcctSvcrRef or NtryRef so a re-import does not book it twice"
