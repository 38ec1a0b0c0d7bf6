"""Read the first sheet of an untrusted .xlsx as a stream of rows, within fixed limits.

An .xlsx is a zip of XML: 18 MB can hold 3 million rows and 1 MB can unpack to a gigabyte in one
cell. So before openpyxl sees the file, the zip's directory is checked (the sizes it declares bound
what Python's zipfile will ever inflate: a member that inflates past its declared size fails its
CRC check); then the sheet is read in openpyxl's read-only mode, row by row, never as a whole, and
the row count (from the sheet's declared dimension first, then as rows arrive), column count and
cell size are checked on the way. Every limit breached is a located Problem, raised at once.

The limits are Excel's own where Excel has one (1,048,576 rows, 32,767 characters per cell); they
can be lowered (never needed raised) through the environment, which is how the tests build a
"too many rows" workbook in kilobytes instead of megabytes.
"""
from __future__ import annotations

import os
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, BinaryIO

from dunflow.errors import InputProblems, Problem

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and password-protected .xlsx
MIB = 1024 * 1024
REOPEN_HINT = "save it again from Excel or LibreOffice as .xlsx (not password-protected), or as CSV UTF-8"
SPLIT_HINT = "split the workbook into smaller files, or export it as CSV UTF-8 (CSV has no row limit)"


@dataclass(frozen=True)
class WorkbookLimits:
    """What an import workbook may hold; `from_env` lets an operator lower them."""

    max_rows: int = 1_048_576  # Excel's own maximum
    max_columns: int = 256
    max_cell_chars: int = 32_767  # Excel's own maximum
    max_unpacked_bytes: int = 512 * MIB  # the whole zip inflated
    max_shared_strings_bytes: int = 64 * MIB  # openpyxl holds this part in memory

    @classmethod
    def from_env(cls) -> WorkbookLimits:
        """DUNFLOW_XLSX_MAX_ROWS, _MAX_COLUMNS, _MAX_CELL_CHARS, _MAX_UNPACKED_BYTES lower the defaults
        (the last bounds the in-memory text table too)."""
        base = cls()
        return cls(_env_int("DUNFLOW_XLSX_MAX_ROWS", base.max_rows),
                   _env_int("DUNFLOW_XLSX_MAX_COLUMNS", base.max_columns),
                   _env_int("DUNFLOW_XLSX_MAX_CELL_CHARS", base.max_cell_chars),
                   _env_int("DUNFLOW_XLSX_MAX_UNPACKED_BYTES", base.max_unpacked_bytes),
                   _env_int("DUNFLOW_XLSX_MAX_UNPACKED_BYTES", base.max_shared_strings_bytes))


def _env_int(name: str, default: int) -> int:
    """A positive integer from the environment, at most `default` (a limit can only be lowered)."""
    text = os.environ.get(name, "")
    return min(int(text), default) if text.isdigit() and int(text) > 0 else default


def _refuse(label: str, line: int, message: str, hint: str, col: int = 0) -> InputProblems:
    return InputProblems([Problem(label, line, col, message, hint, "input/xlsx")])


def check_zip(source: BinaryIO, label: str, limits: WorkbookLimits) -> None:
    """Refuse a workbook whose parts would inflate beyond the limits, before anything is inflated."""
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise _refuse(label, 0, f"cannot read the workbook: {err}", REOPEN_HINT) from None
    total = sum(member.file_size for member in members)
    if total > limits.max_unpacked_bytes:
        raise _refuse(label, 0, f"workbook unpacks to {total:,} bytes, more than the {limits.max_unpacked_bytes:,} "
                      "allowed (a zip bomb, or far too big for an import)", SPLIT_HINT)
    strings = sum(m.file_size for m in members if m.filename.lower().endswith("sharedstrings.xml"))
    if strings > limits.max_shared_strings_bytes:
        raise _refuse(label, 0, f"the workbook's text table unpacks to {strings:,} bytes, more than the "
                      f"{limits.max_shared_strings_bytes:,} allowed", SPLIT_HINT)


def sheet_rows(source: BinaryIO, label: str, limits: WorkbookLimits) -> Generator[tuple[int, tuple[Any, ...]], None, None]:
    """(Excel row number, cell values) of the first sheet, streamed; the workbook is closed when done."""
    import openpyxl  # imported here: only XLSX imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    if source.read(len(OLE_MAGIC)) == OLE_MAGIC:
        raise _refuse(label, 0, "not an .xlsx file: an old .xls or a password-protected workbook", REOPEN_HINT)
    source.seek(0)
    check_zip(source, label, limits)
    source.seek(0)
    unreadable = (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, ValueError, TypeError, OSError,
                  SyntaxError)  # SyntaxError: lxml/ElementTree parse errors of broken sheet XML
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except unreadable as err:
        raise _refuse(label, 0, f"cannot read the workbook: {err or type(err).__name__}", REOPEN_HINT) from None
    try:
        if not book.worksheets:
            raise _refuse(label, 0, "the workbook has no sheet", REOPEN_HINT)
        sheet = book.worksheets[0]
        _check_dimension(sheet, label, limits)
        sheet.reset_dimensions()  # a claim only: openpyxl would stop at a smaller declared size and drop rows
        rows = sheet.iter_rows(values_only=True)
        number = 0
        while True:
            try:
                values = next(rows, None)
            except unreadable as err:
                raise _refuse(label, number + 1, f"cannot read the workbook: {err or type(err).__name__}",
                              REOPEN_HINT) from None
            if values is None:
                return
            number += 1
            _check_row(label, number, values, limits)
            yield number, values
    finally:
        book.close()


def _check_dimension(sheet: Any, label: str, limits: WorkbookLimits) -> None:
    """The sheet's declared size (`<dimension ref="A1:C3000000">`) fails a too-big file before its first row."""
    rows, columns = sheet.max_row, sheet.max_column
    if isinstance(rows, int) and rows > limits.max_rows:
        raise _refuse(label, 0, f"the sheet has {rows:,} rows, more than the {limits.max_rows:,} allowed", SPLIT_HINT)
    if isinstance(columns, int) and columns > limits.max_columns:
        raise _refuse(label, 0, f"the sheet has {columns:,} columns, more than the {limits.max_columns:,} allowed",
                      "keep only the columns the import needs")


def _check_row(label: str, number: int, values: tuple[Any, ...], limits: WorkbookLimits) -> None:
    if number > limits.max_rows:
        raise _refuse(label, number, f"the sheet has more than {limits.max_rows:,} rows", SPLIT_HINT)
    if len(values) > limits.max_columns:
        raise _refuse(label, number, f"row has {len(values):,} columns, more than the {limits.max_columns:,} allowed",
                      "keep only the columns the import needs", limits.max_columns + 1)
    for col, value in enumerate(values, start=1):
        if isinstance(value, str) and len(value) > limits.max_cell_chars:
            raise _refuse(label, number, f"cell holds {len(value):,} characters, more than the "
                          f"{limits.max_cell_chars:,} allowed", "no import field is that long; check the cell", col)
