"""Hand-over to a collection agency end to end through the CLI, on SQLite and PostgreSQL: the escalation marks
the invoices `in_collection`, `collection export` writes a case file per debtor (JSON and CSV, the agency's
field names), payments after the hand-over are reported once in the next export, and `collection recall` takes
an invoice back.

L-1 (business, 1000.00) and L-2 (consumer, 300.00), due 2026-01-10; the hand-over 42 days later falls on
Saturday 2026-02-21, so it goes on Monday 2026-02-23. Interest is booked at the hand-over: L-1 44 days at
10.27 % = 12.380274 → 12.38."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.integration.test_debt_ledger import HEADER, INVOICES, POLICY, Dunflow

PROFILE = """
collection:
  agencies:
    Inkasso Nord GmbH:
      folder: collection/nord
      format: both
      fields: {invoice: Rechnungsnummer, principal: Hauptforderung, interest: Zinsen, total_due: Gesamtforderung,
               new_payments: Zahlungen_neu}
"""


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    for old in (project_dir / "policies").glob("*.yaml"):
        old.unlink()
    (project_dir / "policies" / "charges.yaml").write_text(POLICY, encoding="utf-8")
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write(PROFILE)
    cli = Dunflow(project_dir, database_url, tmp_path)
    cli("import", "invoices", cli.file("invoices.csv", "\n".join((HEADER, *INVOICES)) + "\n"))
    for day in ("2026-01-26", "2026-02-09", "2026-02-23"):
        cli("run", "--as-of", day, "--send")
    cli.project = project_dir  # type: ignore[attr-defined]
    return cli


def listed(cli: Dunflow) -> dict[str, dict[str, str]]:
    return {row["invoice"]: row for row in
            json.loads(cli("collection", "list", "--as-of", "2026-02-23", "--format", "json"))}


def test_the_escalation_hands_the_invoices_over_and_stops_dunning(dunflow: Dunflow) -> None:
    rows = listed(dunflow)
    assert {n: (r["status"], r["agency"], r["handed_on"]) for n, r in rows.items()} == {
        "L-1": ("in_collection", "Inkasso Nord GmbH", "2026-02-23"),
        "L-2": ("in_collection", "Inkasso Nord GmbH", "2026-02-23")}
    assert rows["L-1"]["total_due"] == "1054.88"
    data = dunflow.invoice("L-1", "2026-02-23")
    assert data["state"] == "escalated" and data["next"] is None
    assert ("interest", "12.38", True) in [(c["kind"], c["amount"], c["booked"]) for c in data["charges"]]
    dunflow("run", "--as-of", "2026-03-30", "--send")  # no more notices after the hand-over
    assert dunflow.invoice("L-1", "2026-03-30")["actions"][-1]["kind"] != "step"


def test_the_case_file_has_one_row_per_invoice_under_the_agency_field_names(dunflow: Dunflow) -> None:
    written = json.loads(dunflow("collection", "export", "--as-of", "2026-02-23", "--format", "json"))
    assert sorted(row["debtor"] for row in written) == ["DL1", "DL2"]
    folder = dunflow.project / "collection" / "nord"  # type: ignore[attr-defined]
    with (folder / "DL1.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"Rechnungsnummer": "L-1", "Hauptforderung": "1000.00", "Zinsen": "12.38",
                     "Gesamtforderung": "1054.88", "Zahlungen_neu": "0.00"}]
    case_file = json.loads((folder / "DL1.json").read_text(encoding="utf-8"))
    assert case_file["debtor"]["code"] == "DL1" and case_file["debtor"]["name"] == "Alpha GmbH"
    invoice = case_file["invoices"][0]
    assert [c["kind"] for c in invoice["charges"]] == ["fee", "compensation", "interest"]
    assert invoice["total_due"] == "1054.88" and invoice["payments"] == []
    assert any(a["step"] == "first-notice" for a in invoice["communication"])
    assert invoice["disputes"] == [] and invoice["promises"] == []


def test_a_payment_after_the_hand_over_is_reported_once_in_the_next_export(dunflow: Dunflow) -> None:
    dunflow("collection", "export", "--as-of", "2026-02-23")
    dunflow("payments", "add", "L-1", "100.00", "--date", "2026-02-25")
    first = json.loads(dunflow("collection", "export", "--as-of", "2026-02-25", "--format", "json"))
    assert {row["debtor"]: row["new_payments"] for row in first} == {"DL1": 1, "DL2": 0}
    folder = dunflow.project / "collection" / "nord"  # type: ignore[attr-defined]
    case_file = json.loads((folder / "DL1.json").read_text(encoding="utf-8"))
    assert case_file["invoices"][0]["new_payments"][0]["amount"] == "100.00"
    again = json.loads(dunflow("collection", "export", "--as-of", "2026-02-25", "--format", "json"))
    assert {row["debtor"]: row["new_payments"] for row in again} == {"DL1": 0, "DL2": 0}


def test_a_recalled_invoice_leaves_the_exports(dunflow: Dunflow) -> None:
    dunflow("collection", "recall", "L-2", "--reason", "settled directly with the customer", "--as-of", "2026-02-24")
    assert listed(dunflow)["L-2"]["status"] == "recalled"
    written = json.loads(dunflow("collection", "export", "--as-of", "2026-02-24", "--format", "json"))
    assert [row["debtor"] for row in written] == ["DL1"]
    assert "not in collection" in dunflow("collection", "recall", "L-2", "--reason", "again", code=1)


def test_an_unknown_agency_is_refused(dunflow: Dunflow) -> None:
    assert "no invoice is in collection with" in dunflow("collection", "export", "--agency", "Nobody", code=1)
