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

import csv
import difflib
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from babel.numbers import list_currencies

from dunflow.domain.money import minor_digits, minor_unit
from dunflow.errors import DunflowError, InputProblems, Problem

FORMATS = ("csv", "xlsx")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls and password-protected .xlsx
DELIMITERS = (",", ";", "\t")
EXCEL_DIGITS = 15  # Excel keeps 15 significant digits; more are binary-float noise
MAX_AMOUNT = Decimal(10) ** 14  # amounts are NUMERIC(18, 4): 14 digits before the point, on every database
NOT_MONEY = {"XXX": "no currency", "XTS": "the ISO 4217 code reserved for test data"}  # codes that are not money

T = TypeVar("T")


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    """ISO 4217 codes Babel knows; built once, not per row."""
    return frozenset(list_currencies())
Cells = Iterator[tuple[int, list[str]]]


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
class Table:
    """A whole import file: its header and its non-blank data rows.

    `header` holds the normalised names in file order ('' for a blank header cell, which is
    ignored like any unknown column) so `header.index(name) + 1` is the column number.
    """

    file: str
    header: tuple[str, ...]
    header_line: int
    rows: tuple[Row, ...]

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(name for name in self.header if name)


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
    data = read_bytes(path)
    return parse_table(str(path), data, fmt or sniff_table_format(path, data))


def parse_table(label: str, data: bytes, fmt: str) -> Table:
    """Parse bytes already read (`label` names the file in Problems); for callers that sniffed first."""
    if fmt not in FORMATS:
        raise DunflowError(f"unknown table format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))
    cells = _csv_cells(data, label) if fmt == "csv" else _xlsx_cells(data, label)
    return _build_table(label, cells)


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


def _csv_cells(data: bytes, label: str) -> Cells:
    """Decode UTF-8 (BOM optional) and yield (start line, stripped cells) for each CSV record."""
    text = _decode(data, label)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    return _records(reader, label)


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        hint = "save the file as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')"
        raise _problem(label, line, "file is not UTF-8 text", hint, "input/encoding") from None


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most columns; ',' when in doubt.

    Excel writes `;` where the decimal separator is a comma (de, nl, fr), `,` elsewhere.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: len(next(csv.reader([first], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))


def _records(reader: Iterator[list[str]], label: str) -> Cells:
    """Pair each record with the line it starts on; quoted fields may span several lines."""
    consumed = 0
    try:
        for cells in reader:
            yield consumed + 1, [cell.strip() for cell in cells]
            consumed = reader.line_num  # type: ignore[attr-defined]
    except csv.Error as err:
        hint = "check the quotes on this line"
        raise _problem(label, consumed + 1, f"unreadable CSV: {err}", hint, "input/csv") from None


def _xlsx_cells(data: bytes, label: str) -> Cells:
    """Yield (Excel row number, cell texts) of the first sheet, cached formula results included."""
    rows = _load_sheet_rows(data, label)
    for number, values in enumerate(rows, start=1):
        yield number, [cell_text(value) for value in values]


def _load_sheet_rows(data: bytes, label: str) -> list[tuple[object, ...]]:
    import openpyxl  # imported here: only XLSX imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    hint = "save it again from Excel or LibreOffice as .xlsx (not password-protected), or as CSV UTF-8"
    if data.startswith(OLE_MAGIC):
        raise _problem(label, 0, "not an .xlsx file: an old .xls or a password-protected workbook", hint, "input/xlsx")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    except (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, ValueError, TypeError, OSError) as err:
        raise _problem(label, 0, f"cannot read the workbook: {err or type(err).__name__}", hint, "input/xlsx") from None


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


def _build_table(label: str, cells: Iterable[tuple[int, list[str]]]) -> Table:
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
    rows = tuple(_row(label, line, header, values, columns) for line, values in filled)
    return Table(label, header, header_line, rows)


def _row(label: str, line: int, header: tuple[str, ...], values: list[str], columns: Mapping[str, int]) -> Row:
    """Missing trailing cells read as ''; cells beyond the header and under blank names are ignored."""
    padded = values + [""] * (len(header) - len(values))
    return Row(label, line, {name: padded[i] for i, name in enumerate(header) if name}, columns)


def _check_header(label: str, line: int, header: tuple[str, ...]) -> None:
    """Reject a header that is really data, and duplicate names (which would silently shadow)."""
    names = [name for name in header if name]
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


def require_columns(table: Table, required: Sequence[str]) -> list[Problem]:
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
_DATE_HINT = "write dates as YYYY-MM-DD, e.g. 2024-03-31"


def to_date(text: str) -> date:
    """Parse an ISO `YYYY-MM-DD` date only: '03/04/2024' is April in Europe and March in the US."""
    if not _ISO_DATE.fullmatch(text):
        guess = _guess_date(text)
        hint = f"write {guess}: dates are YYYY-MM-DD" if guess else _DATE_HINT
        raise BadValue(f"'{text}' is not a date in the form YYYY-MM-DD", hint, "input/date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadValue(f"'{text}' is not a real date", _DATE_HINT, "input/date") from None


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
