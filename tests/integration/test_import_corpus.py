"""Every bad import file of tests/corpus/imports is refused alike on SQLite and PostgreSQL: a located
error, exit 1, "nothing was changed", no traceback, and not one row more in the database.

Each file is listed with the words its error must contain, so a new corpus file without an
expectation fails, and a reader that starts accepting a broken file fails too. Files whose name
starts with `debtors-` go through `import debtors`, the others through `import invoices`. Files
that would be big at their real size (a 3-million-row workbook, a gigabyte zip bomb) are made small
by lowering the limit through the environment for that one file.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.integration.test_payments import Dunflow, dunflow  # noqa: F401 - fixture

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "imports"
MIB = 1024 * 1024
EXPECTED: dict[str, tuple[str, str, dict[str, str]]] = {
    "amount-too-large.csv": (":2:4:", "'123456789012345.00' is too large", {}),
    "bidi-override.csv": (":2:8:", "control character U+202E", {}),
    "bom-then-bad-date.csv": (":2:6:", "'0001-01-01' is outside 1900-01-01..2199-12-31", {}),
    "cut-off.xlsx": (":", "cannot read the workbook", {}),
    "date-0001-01-01.csv": (":2:7:", "'0001-01-01' is outside 1900-01-01..2199-12-31", {}),
    "date-year-2200.csv": (":2:7:", "'2200-01-01' is outside", {}),
    "debtor-code-65-chars.csv": (":2:2:", "65 characters long; at most 64", {}),
    "debtors-language-path.csv": (":2:5:", "'../../etc' is not a language code", {}),
    "debtors-phone-51-chars.csv": (":2:5:", "51 characters long; at most 50", {}),
    "email-display-name.csv": (":2:12:", "is not one e-mail address", {}),
    "email-header-injection.csv": (":2:12:", "control character U+000A", {}),
    "email-two-addresses.csv": (":2:12:", "holds several addresses", {}),
    "huge-cell.xlsx": (":2:8:", "cell holds 1,000,000 characters, more than the 32,767 allowed", {}),
    "huge-field.csv": (":2:", "a field is longer than 131,072 characters", {}),
    "huge-header.csv": (":1:", "header line is longer than 131,072 characters", {}),
    "invoice-email-list.csv": (":2:13:", "holds several addresses", {}),
    "invoice-number-65-chars.csv": (":2:1:", "65 characters long; at most 64", {}),
    "language-path.csv": (":2:11:", "'de/../de' is not a language code", {}),
    "latin-1.csv": (":3:", "file is not UTF-8 text", {}),
    "legacy.xls": (":", "an old .xls or a password-protected workbook", {}),
    "name-201-chars.csv": (":2:8:", "201 characters long; at most 200", {}),
    "name-201-chars.xlsx": (":2:8:", "201 characters long; at most 200", {}),
    "nul-byte.csv": (":2:8:", "control character U+0000", {}),
    "terminal-escape.csv": (":2:8:", "control character U+001B", {}),
    "too-many-columns.csv": (":1:", "the header has 312 columns", {}),
    "utf-16.csv": (":1:", "file is UTF-16 text, not UTF-8", {}),
    "zip-bomb.xlsx": (":", "workbook unpacks to 104,873,863 bytes, more than the 33,554,432 allowed",
                      {"DUNFLOW_XLSX_MAX_UNPACKED_BYTES": str(32 * MIB)}),
}
HEADER = ["number", "debtor_code", "currency", "amount", "issue_date", "due_date", "debtor_name", "debtor_type",
          "debtor_country"]


def ledger_counts(cli: Dunflow) -> tuple[int, ...]:
    return tuple(cli.query("SELECT (SELECT count(*) FROM debtors), (SELECT count(*) FROM invoices), "
                           "(SELECT count(*) FROM cases), (SELECT count(*) FROM actions)")[0])


def refused(cli: Dunflow, path: Path, where: str, words: str) -> None:
    kind = "debtors" if path.name.startswith("debtors-") else "invoices"
    before = ledger_counts(cli)
    out = cli("import", kind, str(path), code=1)
    assert f"{path.name}{where}" in out and "error:" in out, out
    assert words in out, out
    assert "nothing was changed" in out and "Traceback" not in out
    assert ledger_counts(cli) == before


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(path.name for path in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_import_file_gets_a_located_error_and_changes_nothing(dunflow: Dunflow, name: str,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    where, words, env = EXPECTED[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    refused(dunflow, CORPUS / name, where, words)


def many_rows(path: Path, rows: int, declared: bool = True) -> Path:
    """A workbook of `rows` invoices; `declared`: with the <dimension> (the size it claims) Excel writes."""
    book = openpyxl.Workbook(write_only=not declared)  # openpyxl's write-only mode writes no <dimension>
    sheet = book.active if declared else book.create_sheet()
    sheet.append(HEADER)
    for k in range(rows):
        sheet.append([f"R-{k}", "DR1", "EUR", 1, "2026-09-01", "2026-10-01", "Rows AG", "business", "DE"])
    book.save(path)
    return path


def test_a_workbook_claiming_fewer_rows_than_it_holds_is_read_to_its_last_row(
        dunflow: Dunflow, tmp_path: Path) -> None:  # noqa: F811
    path = many_rows(tmp_path / "lying.xlsx", 3)
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info.filename) for info in source.infolist()}
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:I2"',
                                               parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    out = dunflow("import", "invoices", str(path))
    assert "invoices: 3 imported" in out, out


def test_a_workbook_declaring_more_rows_than_allowed_is_refused_before_its_first_row(
        dunflow: Dunflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("DUNFLOW_XLSX_MAX_ROWS", "1000")  # stands for Excel's 1,048,576 against 3 million rows
    path = many_rows(tmp_path / "three-thousand-rows.xlsx", 3000)
    refused(dunflow, path, ":", "the sheet has 3,001 rows, more than the 1,000 allowed")


def test_a_workbook_hiding_its_size_is_stopped_at_the_row_over_the_limit(
        dunflow: Dunflow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("DUNFLOW_XLSX_MAX_ROWS", "1000")
    path = many_rows(tmp_path / "undeclared.xlsx", 3000, declared=False)
    refused(dunflow, path, ":1001:", "the sheet has more than 1,000 rows")
