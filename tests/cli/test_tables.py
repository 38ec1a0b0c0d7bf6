"""Table output shows what users and banks typed literally: brackets are not rich markup, colons no emoji.

A payment reference like `Zahlung [/Rg 12]` used to crash the table commands (rich read it as a
closing tag), and `[rechnung 1001]` vanished as an unknown style. These tests render the *table*
form of `outbox`, `payments unmatched`, `show invoice` and `status` for such data.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dunflow.cli.main import main

DEBTOR = "Bau [rechnung 1001] GmbH"
INVOICE = "[rechnung 1001]"
REFERENCE = "Zahlung [/Rg 12]"
PAYER = "Unbekannt [bold]:warning:"
BANK_ID = "[/BANK 7]"


def dunflow(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose debtor name, invoice number and payment texts all look like rich markup."""
    directory = tmp_path / "markup"
    CliRunner().invoke(main, ["init", str(directory), "--no-sample-data"], catch_exceptions=False)
    (directory / "d.csv").write_text(
        "code,name,type,country,language,address,postal_code,city\n"
        f"D-9,{DEBTOR},business,DE,de,Hauptstr. 1,10115,Berlin\n", encoding="utf-8")
    (directory / "i.csv").write_text(
        "number,debtor_code,currency,amount,issue_date,due_date\n"
        f"{INVOICE},D-9,EUR,500.00,2026-09-01,2026-10-01\n", encoding="utf-8")
    (directory / "p.csv").write_text(
        "id,date,amount,currency,reference,payer_name\n"
        f"BANK-8,2026-12-02,77.00,EUR,{REFERENCE},{PAYER}\n", encoding="utf-8")
    dunflow(directory, "import", "debtors", str(directory / "d.csv"))
    dunflow(directory, "import", "invoices", str(directory / "i.csv"))
    dunflow(directory, "run", "--as-of", "2026-12-01")
    dunflow(directory, "import", "payments", str(directory / "p.csv"))
    dunflow(directory, "payment", "add", INVOICE, "100.00", "--date", "2026-12-02", "--reference", BANK_ID)
    return directory


def test_outbox_table_shows_debtor_name_and_invoice_number_literally(project: Path) -> None:
    text = dunflow(project, "outbox", "--format", "table").output
    assert f"│ {DEBTOR} │" in text
    assert f"│ {INVOICE} │" in text


def test_unmatched_payments_table_shows_reference_and_payer_literally(project: Path) -> None:
    text = dunflow(project, "payments", "unmatched", "--format", "table").output
    assert f"│ {REFERENCE} │" in text
    assert f"│ {PAYER} │" in text


def test_show_invoice_table_shows_the_payment_reference_in_the_timeline(project: Path) -> None:
    text = dunflow(project, "show", "invoice", INVOICE, "--format", "table").output
    assert f"Invoice {INVOICE}  debtor D-9 ({DEBTOR})" in text
    assert f"payment {BANK_ID}: 100.00 EUR applied, 400.00 EUR open" in text


def test_status_table_shows_every_case_count_the_json_reports(project: Path) -> None:
    # the final notice waits for the first notice's pay-by date (issue 13.3): due on 2026-12-14
    data = json.loads(dunflow(project, "status", "--as-of", "2026-12-07", "--format", "json").output)
    text = dunflow(project, "status", "--as-of", "2026-12-07", "--format", "table").output
    assert data["cases"] and data["due"]
    for row in data["cases"]:
        assert f"│ {row['policy']} │ {row['state']} │ {row['cases']} " in text
    for row in data["due"]:
        assert f"│ {row['date']} │ {row['cases']} " in text
    assert "Outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(data["outbox"].items())) in text
