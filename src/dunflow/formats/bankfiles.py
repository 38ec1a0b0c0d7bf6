"""Turn a payments file into a BankFile: canonical CSV/XLSX, camt.053/camt.054, MT940, a ZIP of them.

The format is recognised by content, never by the file name: a camt.053 saved as `.txt` is still
XML, and a bank export renamed to `.csv` is still MT940. Formats dunflow cannot read (OFX, QIF,
MT942, PDF) are named as such, with what to export instead, rather than misread as a CSV with
missing columns. A ZIP (how German banks deliver camt.053) is read member by member.

Mistakes in a canonical CSV are collected per file and raised as one `InputProblems`, so a user
fixes a file in one pass; the bank formats answer doubtful entries with a `problem` on the record
instead (see `formats.camt`), so one bad entry never blocks a statement.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from stdnum import iso11649

from dunflow.errors import DunflowError, InputProblems, Problem
from dunflow.formats.bankcsv import PRESETS, CsvProfile, profile_payments
from dunflow.formats.camt import read_camt
from dunflow.formats.entries import BankFile, PaymentRecord, compact_iban
from dunflow.formats.mt940 import looks_like_mt940, read_mt940
from dunflow.formats.tables import (
    FORMATS,
    OLE_MAGIC,
    ZIP_MAGIC,
    Row,
    Table,
    parse_date,
    parse_money,
    parse_table,
    read_bytes,
    require_columns,
    required,
)

__all__ = ["PaymentRecord", "read_payments", "read_bank_file", "sniff_payments_format", "rf_reference_valid"]

PAYMENT_FORMATS = (*FORMATS, "camt", "mt940", "zip")
PAYMENT_COLUMNS = ("id", "date", "amount", "currency", "reference", "payer_name", "payer_iban")
REQUIRED_COLUMNS = ("id", "date", "amount", "currency")
_FORMAT_ALIASES = {"camt053": "camt", "camt054": "camt", "camt.053": "camt", "camt.054": "camt", "xml": "camt",
                   "sta": "mt940", "mt-940": "mt940"}
MAX_MEMBERS, MAX_MEMBER_BYTES = 500, 50_000_000
EXPORT_HINT = "export camt.053 or MT940 from your online banking, or a CSV (see payments.csv_profiles)"
UNSUPPORTED = (  # (test on the first bytes, name); checked before anything else is tried
    (lambda head: b"OFXHEADER" in head or b"<OFX>" in head.upper(), "OFX"),
    (lambda head: head.lstrip().upper().startswith(b"!TYPE:") or head.upper().startswith(b"!ACCOUNT"), "QIF"),
    (lambda head: head.startswith(b"%PDF"), "PDF"),
    (lambda head: bool(re.search(rb"^:34F:", head, re.MULTILINE)), "MT942 (an intraday report)"),
)


def read_payments(path: Path, fmt: str | None = None) -> list[PaymentRecord]:
    """The incoming payments of `path`; InputProblems if the file is broken."""
    found = read_bank_file(path, fmt)
    if found.problems:
        raise InputProblems(found.problems)
    return found.records


def read_bank_file(path: Path, fmt: str | None = None, profiles: Mapping[str, CsvProfile] | None = None,
                   profile: str | None = None) -> BankFile:
    """Read `path` as `fmt` (csv, xlsx, camt, mt940, zip; else recognised by content).

    `profile` names a bank CSV layout (a preset or one of `profiles` from dunflow.yaml).
    """
    return parse_bank_file(str(path), read_bytes(path), fmt, profiles, profile)


def parse_bank_file(label: str, data: bytes, fmt: str | None = None,
                    profiles: Mapping[str, CsvProfile] | None = None, profile: str | None = None) -> BankFile:
    named = (fmt or "").lower()
    kind = _FORMAT_ALIASES.get(named, named) or sniff_payments_format(Path(label), data)
    if kind not in PAYMENT_FORMATS:
        raise DunflowError(f"unknown payments format {kind!r}", hint="use one of: " + ", ".join(PAYMENT_FORMATS))
    if kind == "camt":
        return read_camt(label, data)
    if kind == "mt940":
        return read_mt940(label, data)
    if kind == "zip":
        return _read_zip(label, data, profiles, profile)
    if profile:
        return profile_payments(label, data, profile, profiles or {})
    found = BankFile()
    found.records, found.problems = _table_payments(parse_table(label, data, kind), found)
    return found


def sniff_payments_format(path: Path, data: bytes) -> str:
    """The format of `data` by its content: camt (XML), mt940, zip, xlsx or csv; unsupported ones refused."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    for test, name in UNSUPPORTED:
        if test(head):
            raise InputProblems([Problem(str(path), 1, 0, f"format {name} is not supported", EXPORT_HINT,
                                         "payments/format")])
    if data.startswith(ZIP_MAGIC):
        return "xlsx" if _is_workbook(data) else "zip"
    if data.startswith(OLE_MAGIC):
        return "xlsx"  # the table reader explains what an old .xls needs
    if head.startswith(b"<") or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "camt"
    if looks_like_mt940(head.decode("iso-8859-1")):
        return "mt940"
    return "csv"


def _is_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "[Content_Types].xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _read_zip(label: str, data: bytes, profiles: Mapping[str, CsvProfile] | None,
              profile: str | None) -> BankFile:
    """Every statement inside a ZIP, each named `archive.zip[member]`; size limits keep out ZIP bombs."""
    found = BankFile()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise InputProblems([Problem(label, 0, 0, f"broken ZIP archive: {err}", EXPORT_HINT, "payments/zip")]) from None
    with archive:
        members = sorted((m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")),
                         key=lambda m: m.filename)
        if not members or len(members) > MAX_MEMBERS:
            message = "the ZIP archive is empty" if not members else f"the ZIP holds more than {MAX_MEMBERS} files"
            raise InputProblems([Problem(label, 0, 0, message, EXPORT_HINT, "payments/zip")])
        for member in members:
            found.extend(_read_member(label, archive, member, profiles, profile))
    return found


def _read_member(label: str, archive: zipfile.ZipFile, member: zipfile.ZipInfo,
                 profiles: Mapping[str, CsvProfile] | None, profile: str | None) -> BankFile:
    name = f"{label}[{member.filename}]"
    if member.file_size > MAX_MEMBER_BYTES:
        raise InputProblems([Problem(name, 0, 0, "file too large for a bank statement", EXPORT_HINT, "payments/zip")])
    data = archive.read(member)
    if data.startswith(ZIP_MAGIC):
        raise InputProblems([Problem(name, 0, 0, "a ZIP inside a ZIP is not read", EXPORT_HINT, "payments/zip")])
    try:
        return parse_bank_file(name, data, None, profiles, profile)
    except InputProblems as problems:
        found = BankFile()
        found.problems += problems.problems
        return found


def rf_reference_valid(ref: str) -> bool:
    """True for an ISO 11649 creditor reference ('RF18 5390 0754 7034') whose check digits are right."""
    return bool(re.fullmatch(r"RF[0-9A-Z ]+", ref.upper())) and bool(iso11649.is_valid(ref))


# --- canonical CSV / XLSX ----------------------------------------------------------------------


def _table_payments(table: Table, found: BankFile) -> tuple[list[PaymentRecord], list[Problem]]:
    """Rows → records; a missing required column stops early, as every row would repeat it."""
    problems = require_columns(table, REQUIRED_COLUMNS)
    if problems:
        hint = f"; a bank's own CSV export is read with --profile ({', '.join(sorted(PRESETS))} or your own)"
        return [], [replace(problem, hint=problem.hint + hint) for problem in problems]
    records: list[PaymentRecord] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        record = _row_payment(row, problems)
        _check_unique_id(row, first_line, problems)
        if record is not None and record.amount == 0:
            found.skipped["zero"] += 1
        elif record is not None:
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
                         compact_iban(row.get("payer_iban")), source)


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
