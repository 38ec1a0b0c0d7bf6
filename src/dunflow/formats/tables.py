"""Read a CSV or XLSX import file into located rows, and turn its fields into values or Problems.

Every import (debtors, invoices, payments) passes through here, so a user sees the same
`file:line:col` locations and the same hints whatever made the file: a hand-written CSV, a
European Excel export separated by `;`, or an ERP's .xlsx. Whole-file failures (missing,
undecodable, no header) raise `InputProblems` at once. The field parsers never raise: they append
a located `Problem` and return None, so the caller can report every mistake of a file in one go.

Two layers of parsing:
- `to_decimal`, `to_date`, `to_currency`, `to_choice`, `require_precision` check one bare string
  and raise `BadValue`; bank file readers use them where a value comes from XML, not from a row.
- `parse_decimal`, `parse_date`, ... wrap them for a `Row`, naming the file, line and column.
"""
from __future__ import annotations

import codecs
import csv
import difflib
import io
import itertools
import re
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, TextIO, TypeVar

from babel.numbers import list_currencies

from dunflow.domain.money import minor_digits, minor_unit
from dunflow.errors import DunflowError, InputProblems, Problem
from dunflow.formats.workbook import OLE_MAGIC, WorkbookLimits, sheet_rows

FORMATS = ("csv", "xlsx")
ZIP_MAGIC = b"PK\x03\x04"
MIB = 1024 * 1024
MAX_HEADER_CHARS = 131_072  # the header line; also csv's limit for one field
MAX_COLUMNS = 256
DELIMITERS = (",", ";", "\t")
EXCEL_DIGITS = 15  # Excel keeps 15 significant digits; more are binary-float noise
MAX_AMOUNT = Decimal(10) ** 14  # amounts are NUMERIC(18, 4): 14 digits before the point, on every database
NOT_MONEY = {"XXX": "no currency", "XTS": "the ISO 4217 code reserved for test data"}  # codes that are not money

T = TypeVar("T")


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    """ISO 4217 codes Babel knows; built once, not per row."""
    return frozenset(list_currencies())
Cells = Generator[tuple[int, list[str]], None, None]


@dataclass(frozen=True)
class Row:
    """One data row as the user sees it: `line` is the editor line or Excel row (header = 1).

    `values` maps the normalised column name to the stripped cell text ('' when empty).
    `columns` maps the same names to their 1-based position in the file, so a Problem can point
    at `file:line:col` even after a caller has renamed or dropped columns.
    """

    file: str
    line: int
    values: dict[str, str]
    columns: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def get(self, column: str) -> str:
        """The cell text, '' when the column is absent or empty."""
        return self.values.get(column, "")

    def col(self, column: str) -> int:
        """1-based column number of `column` in the file; 0 if the file has no such column."""
        if column in self.columns:
            return self.columns[column]
        names = list(self.values)
        return names.index(column) + 1 if column in names else 0


@dataclass(frozen=True)
class Header:
    """What an import file's first line says: the normalised column names in file order.

    `header` holds '' for a blank header cell, which is ignored like any unknown column, so
    `header.index(name) + 1` is the column number.
    """

    file: str
    header: tuple[str, ...]
    header_line: int

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(name for name in self.header if name)


@dataclass(frozen=True)
class Table(Header):
    """A whole import file in memory: for small files (debtors, payments) and callers that need two looks."""

    rows: tuple[Row, ...]


@dataclass(frozen=True)
class TableStream(Header):
    """An import file read as it is consumed: `rows` yields each non-blank data row once.

    `total` estimates the data rows (a CSV's line count), for a progress bar; None when unknown.
    """

    rows: Iterator[Row]
    total: int | None = None


class BadValue(ValueError):
    """One unusable value, with what to write instead.

    Raised by the `to_*` converters, which do not know where the value came from; the caller
    that does turns it into a located Problem.
    """

    def __init__(self, message: str, hint: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.rule = rule


# --- reading files -------------------------------------------------------------------------


def read_table(path: Path, fmt: str | None = None) -> Table:
    """Read `path` as CSV or XLSX (`fmt`, else sniffed) into a Table; raise InputProblems if unusable."""
    with open_table(path, fmt) as stream:
        return Table(stream.file, stream.header, stream.header_line, tuple(stream.rows))


@contextmanager
def open_table(path: Path, fmt: str | None = None) -> Iterator[TableStream]:
    """`path` as a TableStream, its file (or workbook) open until the block ends: memory stays flat."""
    label = str(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise _problem(label, 0, "file not found", "check the path and the current folder", "input/file") from None
    except OSError as err:
        raise _problem(label, 0, f"cannot read file: {err.strerror or err}", "", "input/file") from None
    with handle:
        kind = fmt or sniff_table_format(path, handle.read(len(OLE_MAGIC)))
        handle.seek(0)
        with closing(_cells(handle, label, kind)) as cells:
            yield _stream(label, cells, _count_lines(handle) if kind == "csv" else None)


def parse_table(label: str, data: bytes, fmt: str) -> Table:
    """Parse bytes already read (`label` names the file in Problems); for callers that sniffed first."""
    with closing(_cells(io.BytesIO(data), label, fmt)) as cells:
        stream = _stream(label, cells, None)
        return Table(stream.file, stream.header, stream.header_line, tuple(stream.rows))


def _cells(handle: BinaryIO, label: str, fmt: str) -> Cells:
    if fmt not in FORMATS:
        raise DunflowError(f"unknown table format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))
    return _csv_cells(handle, label) if fmt == "csv" else _xlsx_cells(handle, label)


def _count_lines(handle: BinaryIO) -> int:
    """Line breaks in the file, read in 1 MiB blocks (57 MB in a few hundredths of a second)."""
    lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(MIB), b""))
    handle.seek(0)
    return max(lines - 1, 0)


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing or unreadable file is the user's mistake, not a traceback."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        problem = Problem(str(path), 0, 0, "file not found", "check the path and the current folder", "input/file")
    except OSError as err:
        problem = Problem(str(path), 0, 0, f"cannot read file: {err.strerror or err}", "", "input/file")
    raise InputProblems([problem])


def sniff_table_format(path: Path, data: bytes) -> str:
    """'xlsx' for .xlsx or zip content, otherwise 'csv': extensions first, because users name files."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    return "xlsx" if data.startswith((ZIP_MAGIC, OLE_MAGIC)) else "csv"


def _problem(file: str, line: int, message: str, hint: str, rule: str, col: int = 0) -> InputProblems:
    return InputProblems([Problem(file, line, col, message, hint, rule)])


def _csv_cells(handle: BinaryIO, label: str) -> Cells:
    """Decode UTF-8 (BOM optional) as it is read and yield (start line, stripped cells) for each record."""
    start = handle.read(4)
    handle.seek(0)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "save the file as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')"
        raise _problem(label, 1, "file is UTF-16 text, not UTF-8", hint, "input/encoding")
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        yield from _csv_records(text, label)
    except UnicodeDecodeError:
        raise _problem(label, _first_undecodable_line(handle), "file is not UTF-8 text",
                       "save the file as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')", "input/encoding") from None
    finally:
        text.detach()  # the caller closes the file


def _csv_records(text: TextIO, label: str) -> Cells:
    """Skip leading blank lines, sniff the delimiter on the header line, then read records."""
    skipped = 0
    first = text.readline(MAX_HEADER_CHARS + 1)
    while first and not first.strip():
        skipped += 1
        first = text.readline(MAX_HEADER_CHARS + 1)
    if len(first) > MAX_HEADER_CHARS:
        raise _problem(label, skipped + 1, f"the header line is longer than {MAX_HEADER_CHARS:,} characters",
                       "the first line must only name the columns, e.g. id,date,amount", "input/header")
    reader = csv.reader(itertools.chain([first], text), delimiter=_sniff_delimiter(first))
    for line, cells in _records(reader, label):
        yield line + skipped, cells


def _first_undecodable_line(handle: BinaryIO) -> int:
    """The line of the first byte that is not UTF-8, found again from the start (errors only)."""
    handle.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    for block in iter(lambda: handle.read(MIB), b""):
        try:
            decoder.decode(block)
        except UnicodeDecodeError as err:
            return line + block.count(b"\n", 0, err.start)
        line += block.count(b"\n")
    return line


def _sniff_delimiter(first: str) -> str:
    """The delimiter that splits the header line into the most columns; ',' when in doubt.

    Excel writes `;` where the decimal separator is a comma (de, nl, fr), `,` elsewhere.
    """
    counts = {d: first.count(d) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def _records(reader: Iterator[list[str]], label: str) -> Cells:
    """Pair each record with the line it starts on; quoted fields may span several lines."""
    consumed = 0
    try:
        for cells in reader:
            yield consumed + 1, [cell.strip() for cell in cells]
            consumed = reader.line_num  # type: ignore[attr-defined]
    except csv.Error as err:
        message, hint = f"unreadable CSV: {err}", "check the quotes on this line"
        if "field limit" in str(err):
            message = f"a field is longer than {csv.field_size_limit():,} characters"
            hint = "no import field is that long; check the quotes on this line"
        raise _problem(label, consumed + 1, message, hint, "input/csv") from None


def _xlsx_cells(handle: BinaryIO, label: str) -> Cells:
    """Yield (Excel row number, cell texts) of the first sheet, cached formula results included."""
    with closing(sheet_rows(handle, label, WorkbookLimits.from_env())) as rows:
        for number, values in rows:
            yield number, [cell_text(value) for value in values]


def cell_text(value: object) -> str:
    """One spreadsheet cell as the text a user would type: ISO dates, exact decimals, '' for empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value).strip()


def float_text(value: float) -> str:
    """A float as a plain decimal string without binary artefacts (1234.5 -> '1234.5', 1001.0 -> '1001').

    Excel stores 15 significant digits; rounding to them removes tails like 1234.4999999999998.
    """
    number = Decimal(f"{value:.{EXCEL_DIGITS}g}")
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _stream(label: str, cells: Cells, total: int | None) -> TableStream:
    """First non-blank record is the header; blank records (also `;;;` from Excel) are skipped."""
    filled = ((line, values) for line, values in cells if any(values))
    first = next(filled, None)
    if first is None:
        hint = "the first line must name the columns, e.g. id,date,amount"
        raise _problem(label, 1, "file is empty", hint, "input/empty")
    header_line, raw = first
    header = tuple(name.strip().lower() for name in raw)
    _check_header(label, header_line, header)
    columns = MappingProxyType({name: i for i, name in enumerate(header, start=1) if name})
    rows = (_row(label, line, header, values, columns) for line, values in filled)
    return TableStream(label, header, header_line, rows, total)


def _row(label: str, line: int, header: tuple[str, ...], values: list[str], columns: Mapping[str, int]) -> Row:
    """Missing trailing cells read as ''; cells beyond the header and under blank names are ignored."""
    padded = values + [""] * (len(header) - len(values))
    return Row(label, line, {name: padded[i] for i, name in enumerate(header) if name}, columns)


def _check_header(label: str, line: int, header: tuple[str, ...]) -> None:
    """Reject a header that is really data, and duplicate names (which would silently shadow)."""
    names = [name for name in header if name]
    if len(header) > MAX_COLUMNS or sum(map(len, header)) > MAX_HEADER_CHARS:
        hint = "the first line must only name the columns, e.g. id,date,amount"
        message = f"the header has {len(header):,} columns; at most {MAX_COLUMNS} and {MAX_HEADER_CHARS:,} characters"
        raise _problem(label, line, message, hint, "input/header")
    if all(_looks_like_data(name) for name in names):
        hint = "add a first line naming the columns, e.g. id,date,amount,currency"
        raise _problem(label, line, "no header: the first line holds values, not column names", hint, "input/header")
    problems = list(_duplicate_columns(label, line, header))
    if problems:
        raise InputProblems(problems)


def _looks_like_data(name: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.,]+|\d{4}-\d{2}-\d{2}", name))


def _duplicate_columns(label: str, line: int, header: tuple[str, ...]) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for col, name in enumerate(header, start=1):
        if name and name in seen:
            message = f"column '{name}' appears twice (columns {seen[name]} and {col})"
            yield Problem(label, line, col, message, "rename or remove one of them", "input/duplicate-column")
        seen.setdefault(name, col)


def require_columns(table: Header, required: Sequence[str]) -> list[Problem]:
    """One Problem per required column the header lacks, at the header line, with a guess for typos."""
    expected = ", ".join(required)
    problems = []
    for name in required:
        if name in table.columns:
            continue
        close = difflib.get_close_matches(name, sorted(table.columns), n=1)
        guess = f"; is '{close[0]}' meant to be '{name}'?" if close else ""
        hint = f"the first line must name the columns {expected}{guess}"
        message = f"missing required column '{name}'"
        problems.append(Problem(table.file, table.header_line, 0, message, hint, "input/missing-column"))
    return problems


# --- converting one value --------------------------------------------------------------------

_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_AMOUNT_HINT = "write amounts with a dot and no thousands separator, e.g. 1234.50"


def to_decimal(text: str, *, positive: bool = True, allow_zero: bool = True) -> Decimal:
    """Parse a dot-decimal string (CLI.md: `1234.50`); `positive` rejects a minus sign.

    Anything locale-shaped ('12,50', '1.234,50', '1,234.50') is refused rather than guessed, since
    '1,234' means 1234 in one country and 1.234 in another; the hint offers the likely reading.
    """
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise BadValue(_decimal_complaint(text), _decimal_hint(text), "input/decimal")
    number = check_size(Decimal(text), text)
    if positive and number < 0:
        hint = "amounts here are 0 or more; leave out the minus sign"
        raise BadValue(f"'{text}' is negative", hint, "input/negative")
    if not allow_zero and number == 0:
        raise BadValue(f"'{text}' is zero", "give an amount greater than 0", "input/zero")
    return number


def check_size(number: Decimal, text: str = "") -> Decimal:
    """`number` if the database can hold it (the same limit on PostgreSQL and SQLite), else BadValue."""
    if abs(number) < MAX_AMOUNT:
        return number
    shown = text or str(number)
    shown = shown if len(shown) <= 20 else shown[:20] + "…"
    raise BadValue(f"'{shown}' is too large: amounts are below {MAX_AMOUNT:,}",
                   "check the amount; at most 14 digits before the decimal point", "input/too-large")


def _decimal_complaint(text: str) -> str:
    if "," in text and "." in text:
        return f"'{text}' has a thousands separator"
    if "," in text:
        return f"'{text}' uses a comma; the decimal separator is a dot"
    return f"'{text}' is not a number"


def _decimal_hint(text: str) -> str:
    guess = _guess_decimal(text)
    return f"write {guess}: a dot as decimal separator, no thousands separator" if guess else _AMOUNT_HINT


def _guess_decimal(text: str) -> str | None:
    """The unambiguous dot-decimal reading of a locale-formatted number, if there is one."""
    compact = text.replace(" ", "").replace("\u00a0", "").replace("'", "")
    if "," in compact and "." in compact:
        decimal_sep = "," if compact.rfind(",") > compact.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        compact = compact.replace(thousands, "").replace(decimal_sep, ".")
    elif compact.count(",") == 1 and not re.search(r",\d{3}$", compact):
        compact = compact.replace(",", ".")
    return compact if compact != text and _PLAIN_DECIMAL.fullmatch(compact) else None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)  # a year 1 date is a typo or a NULL in disguise
_DATE_HINT = "write dates as YYYY-MM-DD, e.g. 2024-03-31"


def to_date(text: str) -> date:
    """Parse an ISO `YYYY-MM-DD` date only: '03/04/2024' is April in Europe and March in the US."""
    if not _ISO_DATE.fullmatch(text):
        guess = _guess_date(text)
        hint = f"write {guess}: dates are YYYY-MM-DD" if guess else _DATE_HINT
        raise BadValue(f"'{text}' is not a date in the form YYYY-MM-DD", hint, "input/date")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadValue(f"'{text}' is not a real date", _DATE_HINT, "input/date") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise BadValue(f"'{text}' is outside {EARLIEST_DATE}..{LATEST_DATE}", "check the year", "input/date-range")
    return day


def _guess_date(text: str) -> str | None:
    """Unambiguous readings only: a timestamp's date part, or German/Dutch DD.MM.YYYY."""
    head = re.match(r"(\d{4}-\d{2}-\d{2})[T ]", text)
    dotted = re.fullmatch(r"(\d{1,2})[.-](\d{1,2})[.-](\d{4})", text)
    candidate = head.group(1) if head else None
    if dotted:
        day, month, year = dotted.groups()
        candidate = f"{year}-{int(month):02d}-{int(day):02d}"
    try:
        return date.fromisoformat(candidate).isoformat() if candidate else None
    except ValueError:
        return None


_CURRENCY_GUESSES = {"€": "EUR", "EURO": "EUR", "EUROS": "EUR", "£": "GBP", "FR.": "CHF", "SFR": "CHF"}


def to_currency(text: str) -> str:
    """An ISO 4217 code known to Babel, upper-cased ('eur' -> 'EUR')."""
    code = text.strip().upper()
    if code in NOT_MONEY:
        raise BadValue(f"currency '{code}' is {NOT_MONEY[code]}", "use the ISO 4217 code of the money, e.g. EUR",
                       "input/currency")
    if code in _known_currencies():
        return code
    guess = _CURRENCY_GUESSES.get(code)
    hint = f"write {guess}" if guess else "use the ISO 4217 code, e.g. EUR, USD, GBP, CHF"
    raise BadValue(f"unknown currency '{text}'", hint, "input/currency")


def check_precision(amount: Decimal, currency: str) -> bool:
    """True when `amount` fits the currency's minor unit; trailing zeros ('12.500' EUR) are fine."""
    try:
        return amount == amount.quantize(minor_unit(currency))
    except InvalidOperation:
        return False


def require_precision(amount: Decimal, currency: str) -> Decimal:
    """`amount` if it fits `currency`'s minor unit; a cent fraction is a typo, never rounded away."""
    if check_precision(amount, currency):
        return amount
    digits = minor_digits(currency)
    allowed = f"{digits} decimal{'s' if digits != 1 else ''}" if digits else "no decimals"
    raise BadValue(f"'{amount}' has more decimals than {currency} allows ({allowed})",
                   f"{currency} amounts have {allowed}, e.g. {Decimal(1234).quantize(minor_unit(currency))}",
                   "input/precision")


def to_choice(text: str, choices: Sequence[str]) -> str:
    """The choice `text` names, case-insensitively; the hint lists them and the closest one."""
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    close = difflib.get_close_matches(text.lower(), [c.lower() for c in choices], n=1)
    hint = f"use one of: {', '.join(choices)}" + (f" (did you mean '{close[0]}'?)" if close else "")
    raise BadValue(f"'{text}' is not one of the allowed values", hint, "input/choice")


# --- parsing a row's fields into values or Problems -------------------------------------------


def _missing(row: Row, column: str) -> Problem:
    message, hint = f"column '{column}' is empty", f"give a {column} on this line"
    return Problem(row.file, row.line, row.col(column), message, hint, "input/required")


def _located(row: Row, column: str, bad: BadValue) -> Problem:
    return Problem(row.file, row.line, row.col(column), f"column '{column}': {bad.message}", bad.hint, bad.rule)


def _field(row: Row, column: str, problems: list[Problem], convert: Callable[[str], T], optional: bool) -> T | None:
    """Convert one cell, or record why not: empty (unless optional) or a BadValue."""
    text = row.get(column)
    if not text:
        if not optional:
            problems.append(_missing(row, column))
        return None
    try:
        return convert(text)
    except BadValue as bad:
        problems.append(_located(row, column, bad))
        return None


def required(row: Row, column: str, problems: list[Problem]) -> str | None:
    """The cell text, or None plus a Problem when it is empty."""
    return _field(row, column, problems, str, optional=False)


def parse_decimal(row: Row, column: str, problems: list[Problem], *, positive: bool = True,
                  allow_zero: bool = True, optional: bool = False) -> Decimal | None:
    """A dot-decimal amount (see `to_decimal`), or None plus a located Problem."""
    return _field(row, column, problems, lambda t: to_decimal(t, positive=positive, allow_zero=allow_zero), optional)


def parse_date(row: Row, column: str, problems: list[Problem], *, optional: bool = False) -> date | None:
    """An ISO date (see `to_date`), or None plus a located Problem."""
    return _field(row, column, problems, to_date, optional)


def parse_currency(row: Row, column: str, problems: list[Problem], *, optional: bool = False) -> str | None:
    """An upper-case ISO 4217 code (see `to_currency`), or None plus a located Problem."""
    return _field(row, column, problems, to_currency, optional)


def parse_choice(row: Row, column: str, choices: Sequence[str], problems: list[Problem], *,
                 optional: bool = False) -> str | None:
    """One of `choices` (case-insensitive, returned as spelled in `choices`), or None plus a Problem."""
    return _field(row, column, problems, lambda t: to_choice(t, choices), optional)


def parse_money(row: Row, amount_column: str, currency_column: str, problems: list[Problem], *,
                positive: bool = True, allow_zero: bool = True) -> tuple[Decimal, str] | None:
    """Amount and currency together, so a cent fraction in JPY is caught on the amount's column."""
    amount = parse_decimal(row, amount_column, problems, positive=positive, allow_zero=allow_zero)
    currency = parse_currency(row, currency_column, problems)
    if amount is None or currency is None:
        return None
    try:
        return require_precision(amount, currency), currency
    except BadValue as bad:
        problems.append(_located(row, amount_column, bad))
        return None
