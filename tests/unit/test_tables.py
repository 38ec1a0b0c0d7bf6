"""Reading CSV/XLSX import files into located rows, and field parsing into values or Problems."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from dunflow.errors import InputProblems, Problem
from dunflow.formats.tables import (
    Row,
    check_precision,
    float_text,
    parse_choice,
    parse_currency,
    parse_date,
    parse_decimal,
    parse_money,
    read_table,
    require_columns,
    required,
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, rows: list[list[object]], name: str = "book.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for number, values in enumerate(rows, start=1):
        for col, value in enumerate(values, start=1):
            sheet.cell(row=number, column=col, value=value)
    path = tmp_path / name
    book.save(path)
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(InputProblems) as caught:
        read_table(path)
    return caught.value.problems


def row(**values: str) -> Row:
    columns = {name: col for col, name in enumerate(values, start=1)}
    return Row("in.csv", 7, dict(values), columns)


# --- reading CSV ---------------------------------------------------------------------------------


def test_comma_csv_is_read_with_normalised_header_and_editor_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", " ID , Amount\nP-1, 12.50 \nP-2,7\n")
    table = read_table(path)
    assert table.header == ("id", "amount")
    assert [(r.line, r.values) for r in table.rows] == [
        (2, {"id": "P-1", "amount": "12.50"}), (3, {"id": "P-2", "amount": "7"})]
    assert table.rows[0].file == str(path)


def test_semicolon_csv_from_excel_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "de.csv", "id;amount;reference\r\nP-1;12.50;Rechnung 1, 2\r\n")
    assert read_table(path).rows[0].values == {"id": "P-1", "amount": "12.50", "reference": "Rechnung 1, 2"}


def test_tab_separated_txt_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "export.txt", "id\tamount\nP-1\t3.00\n")
    assert read_table(path).rows[0].values == {"id": "P-1", "amount": "3.00"}


def test_utf8_bom_does_not_end_up_in_the_first_column_name(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", "\ufeffid,name\n1,Müller\n")
    assert read_table(path).rows[0].values == {"id": "1", "name": "Müller"}


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path: Path) -> None:
    path = write(tmp_path, "gaps.csv", "id;amount\n\n;;\nP-1;1.00\n   \nP-2;2.00\n")
    assert [r.line for r in read_table(path).rows] == [4, 6]


def test_quoted_field_over_two_lines_keeps_later_lines_true(tmp_path: Path) -> None:
    path = write(tmp_path, "multi.csv", 'id,reference\nP-1,"line one\nline two"\nP-2,x\n')
    rows = read_table(path).rows
    assert [(r.line, r.values["reference"]) for r in rows] == [(2, "line one\nline two"), (4, "x")]


def test_short_rows_read_missing_cells_as_empty_and_extra_cells_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "ragged.csv", "id,amount,currency\nP-1\nP-2,1,EUR,surplus\n")
    assert [r.values for r in read_table(path).rows] == [
        {"id": "P-1", "amount": "", "currency": ""},
        {"id": "P-2", "amount": "1", "currency": "EUR"},
    ]


def test_header_only_file_has_no_rows(tmp_path: Path) -> None:
    assert read_table(write(tmp_path, "h.csv", "id,amount\n")).rows == ()


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "nope.csv")
    assert problem.message == "file not found"
    assert problem.file.endswith("nope.csv")


def test_latin1_file_names_the_line_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "id,name\n1,ok\n2,Müller\n", encoding="latin-1")
    [problem] = problems_of(path)
    assert (problem.line, problem.rule) == (3, "input/encoding")
    assert "UTF-8" in problem.hint


def test_empty_file_is_a_problem(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "empty.csv", "\n \n"))
    assert (problem.line, problem.message) == (1, "file is empty")


def test_file_without_header_line_is_rejected(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "nohead.csv", "2024-03-01,12.50,7\n"))
    assert problem.rule == "input/header"
    assert "column names" in problem.message


def test_duplicate_header_names_point_at_the_second_column(tmp_path: Path) -> None:
    [problem] = problems_of(write(tmp_path, "dup.csv", "id,Amount,amount\n1,2,3\n"))
    assert (problem.line, problem.col) == (1, 3)
    assert "columns 2 and 3" in problem.message


# --- reading XLSX --------------------------------------------------------------------------------


def test_xlsx_cells_become_the_text_a_user_typed(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [
        ["ID", "Date", "Booked", "Amount", "Count", "Noise", "Empty"],
        [1001, dt.date(2024, 3, 1), dt.datetime(2024, 3, 2, 14, 30), 1234.5, 7, 0.1 + 0.2, None],
    ])
    [first] = read_table(path).rows
    assert first.values == {"id": "1001", "date": "2024-03-01", "booked": "2024-03-02", "amount": "1234.5",
                            "count": "7", "noise": "0.3", "empty": ""}


def test_float_artefacts_from_excel_are_removed() -> None:
    assert float_text(1234.4999999999998) == "1234.5"
    assert float_text(1001.0) == "1001"
    assert float_text(1e-7) == "0.0000001"


def test_xlsx_blank_rows_keep_excel_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["id"], ["A"], [None], [None], ["B"]])
    assert [(r.line, r.values["id"]) for r in read_table(path).rows] == [(2, "A"), (5, "B")]


def test_xlsx_is_recognised_by_content_without_extension(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path, [["id"], ["A"]], name="download")
    assert read_table(path).rows[0].values == {"id": "A"}


def test_corrupt_xlsx_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    [problem] = problems_of(path)
    assert problem.rule == "input/xlsx"
    assert "CSV" in problem.hint


def test_legacy_xls_saved_as_xlsx_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    [problem] = problems_of(path)
    assert ".xls" in problem.message


# --- columns -------------------------------------------------------------------------------------


def test_missing_required_column_is_named_at_the_header_line(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "p.csv", "id,amount\n1,2\n"))
    [problem] = require_columns(table, ["id", "date", "amount"])
    assert (problem.line, problem.message) == (1, "missing required column 'date'")
    assert "id, date, amount" in problem.hint


def test_missing_column_hint_suggests_the_misspelt_one(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "p.csv", "id,amout\n1,2\n"))
    [problem] = require_columns(table, ["id", "amount"])
    assert "'amout'" in problem.hint


# --- field parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1234.50", "0", "7", "0.01"])
def test_plain_dot_decimals_are_accepted(text: str) -> None:
    problems: list[Problem] = []
    assert parse_decimal(row(amount=text), "amount", problems) == Decimal(text)
    assert problems == []


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("1,234.50", "thousands separator", "write 1234.50"),
    ("1.234,50", "thousands separator", "write 1234.50"),
    ("12,50", "uses a comma", "write 12.50"),
    ("abc", "is not a number", "e.g. 1234.50"),
    ("NaN", "is not a number", "e.g. 1234.50"),
    ("Infinity", "is not a number", "e.g. 1234.50"),
    ("1e3", "is not a number", "e.g. 1234.50"),
    ("-5.00", "is negative", "minus sign"),
])
def test_bad_amounts_name_column_and_value_with_the_expected_form(text: str, message: str, hint: str) -> None:
    problems: list[Problem] = []
    assert parse_decimal(row(id="x", amount=text), "amount", problems) is None
    [problem] = problems
    assert (problem.file, problem.line, problem.col) == ("in.csv", 7, 2)
    assert f"column 'amount': '{text}'" in problem.message and message in problem.message
    assert hint in problem.hint


def test_negative_amount_is_fine_where_signs_are_allowed() -> None:
    problems: list[Problem] = []
    assert parse_decimal(row(amount="-5.00"), "amount", problems, positive=False) == Decimal("-5.00")
    assert problems == []


def test_empty_required_value_is_a_problem_but_optional_is_none() -> None:
    problems: list[Problem] = []
    assert parse_decimal(row(amount=""), "amount", problems, optional=True) is None
    assert problems == []
    assert required(row(id=""), "id", problems) is None
    assert problems[0].message == "column 'id' is empty"


def test_iso_date_is_parsed() -> None:
    problems: list[Problem] = []
    assert parse_date(row(date="2024-02-29"), "date", problems) == dt.date(2024, 2, 29)
    assert problems == []


@pytest.mark.parametrize(("text", "hint"), [
    ("31.03.2024", "write 2024-03-31"),
    ("2024-03-31T10:00:00", "write 2024-03-31"),
    ("03/31/2024", "YYYY-MM-DD, e.g."),
    ("2024-02-30", "YYYY-MM-DD, e.g."),
])
def test_non_iso_or_impossible_dates_are_problems_with_a_hint(text: str, hint: str) -> None:
    problems: list[Problem] = []
    assert parse_date(row(date=text), "date", problems) is None
    assert f"'{text}'" in problems[0].message
    assert hint in problems[0].hint


def test_currency_is_upper_cased_and_unknown_codes_are_problems() -> None:
    problems: list[Problem] = []
    assert parse_currency(row(currency="eur"), "currency", problems) == "EUR"
    assert parse_currency(row(currency="EURO"), "currency", problems) is None
    [problem] = problems
    assert problem.message == "column 'currency': unknown currency 'EURO'"
    assert problem.hint == "write EUR"


@pytest.mark.parametrize(("amount", "currency", "fits"), [
    ("12.34", "EUR", True), ("12.340", "EUR", True), ("12.345", "EUR", False),
    ("100", "JPY", True), ("100.5", "JPY", False), ("1.234", "BHD", True),
])
def test_precision_follows_the_currency_minor_unit(amount: str, currency: str, fits: bool) -> None:
    assert check_precision(Decimal(amount), currency) is fits


def test_too_many_decimals_is_reported_on_the_amount_column() -> None:
    problems: list[Problem] = []
    assert parse_money(row(amount="100.50", currency="JPY"), "amount", "currency", problems) is None
    [problem] = problems
    assert (problem.col, problem.rule) == (1, "input/precision")
    assert "JPY" in problem.message


def test_choice_is_case_insensitive_and_suggests_the_closest() -> None:
    problems: list[Problem] = []
    assert parse_choice(row(type="Business"), "type", ["business", "consumer"], problems) == "business"
    assert parse_choice(row(type="consumr"), "type", ["business", "consumer"], problems) is None
    assert "business, consumer" in problems[0].hint and "consumer'?" in problems[0].hint


def test_every_mistake_of_a_row_is_collected() -> None:
    bad = row(id="", date="1.3.24", amount="12,5", currency="XYZ")
    problems: list[Problem] = []
    required(bad, "id", problems)
    parse_date(bad, "date", problems)
    parse_money(bad, "amount", "currency", problems)
    assert [p.col for p in problems] == [1, 2, 3, 4]
