"""Imports: FILE or `-` (stdin) in CSV, XLSX or camt.053, `--input-format` for the input, `--format` for the output."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import openpyxl
from click.testing import CliRunner, Result

from dunflow.cli.main import main

DEBTORS = "code,name,type,country,email\nS-1,Stdin GmbH,business,DE,ap@stdin.example\n"
INVOICES = [("number", "debtor_code", "currency", "amount", "issue_date", "due_date"),
            ("S-100", "S-1", "EUR", "250.00", "2026-09-01", "2026-10-01"),
            ("S-101", "S-1", "EUR", "80.50", "2026-09-15", "2026-10-15")]


def dunflow(project: Path, *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), *args], input=stdin, catch_exceptions=False)


def xlsx_bytes(rows: list[tuple[str, ...]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def invoice(project: Path, number: str) -> dict[str, Any]:
    return json.loads(dunflow(project, "show", "invoice", number, "--format", "json").stdout)


def test_debtors_csv_and_invoices_xlsx_are_read_from_stdin(project_dir: Path) -> None:
    debtors = dunflow(project_dir, "import", "debtors", "-", "--format", "json", stdin=DEBTORS.encode())
    assert debtors.exit_code == 0, debtors.output
    assert json.loads(debtors.stdout) == {"kind": "debtors", "file": "-", "created": 1, "updated": 0, "unchanged": 0}
    invoices = dunflow(project_dir, "import", "invoices", "-", stdin=xlsx_bytes(INVOICES))  # sniffed: a zip
    assert invoices.exit_code == 0, invoices.output
    assert "invoices: 2 imported" in invoices.stdout
    shown = invoice(project_dir, "S-101")
    assert (shown["debtor"], shown["open_amount"], shown["due_date"]) == ("S-1", "80.50", "2026-10-15")


def test_a_camt053_statement_is_read_from_stdin(project_dir: Path) -> None:
    for kind in ("debtors", "invoices"):
        assert dunflow(project_dir, "import", kind, str(project_dir / f"{kind}.csv")).exit_code == 0
    statement = (project_dir / "camt053-sample.xml").read_bytes()
    piped = dunflow(project_dir, "import", "payments", "-", "--format", "json", stdin=statement)
    assert piped.exit_code == 0, piped.output
    first = json.loads(piped.stdout)
    assert first["recorded"] > 0 and first["already_imported"] == 0
    again = dunflow(project_dir, "import", "payments", str(project_dir / "camt053-sample.xml"), "--format", "json")
    assert json.loads(again.stdout)["already_imported"] == first["recorded"]  # the same entries as the file


def test_stdin_that_cannot_be_sniffed_asks_for_input_format(project_dir: Path) -> None:
    garbage = "code,name\nS-1,Müller\n".encode("latin-1")
    result = dunflow(project_dir, "import", "debtors", "-", stdin=garbage)
    assert result.exit_code == 1
    assert "cannot tell the format of the data on stdin" in result.stderr
    assert "--input-format csv|xlsx" in result.stderr


def test_input_format_overrides_sniffing_on_stdin(project_dir: Path) -> None:
    result = dunflow(project_dir, "import", "debtors", "-", "--input-format", "xlsx", stdin=DEBTORS.encode())
    assert result.exit_code == 1
    assert "<stdin>" in result.stderr and "xlsx" in result.stderr.lower()


def test_problems_in_stdin_are_located_in_stdin_not_in_a_temporary_file(project_dir: Path) -> None:
    bad = "code,name,type,country\nS-1,Stdin GmbH,business,Germany\n"
    result = dunflow(project_dir, "import", "debtors", "-", stdin=bad.encode())
    assert result.exit_code == 1
    assert "<stdin>:2:4:" in result.stderr
    assert "dunflow-stdin-" not in result.output


def test_empty_stdin_is_refused(project_dir: Path) -> None:
    result = dunflow(project_dir, "import", "invoices", "-", stdin=b"")
    assert result.exit_code == 1 and "stdin is empty" in result.stderr


def test_the_old_format_option_of_import_points_to_input_format(project_dir: Path) -> None:
    result = dunflow(project_dir, "import", "debtors", str(project_dir / "debtors.csv"), "--format", "csv")
    assert result.exit_code == 2
    assert "--input-format csv" in result.output
    ok = dunflow(project_dir, "import", "debtors", str(project_dir / "debtors.csv"), "--input-format", "csv")
    rows = len((project_dir / "debtors.csv").read_text(encoding="utf-8").strip().splitlines()) - 1
    assert ok.exit_code == 0 and f"debtors: {rows} created" in ok.stdout
