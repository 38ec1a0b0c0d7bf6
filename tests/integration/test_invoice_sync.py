"""The ERP's open items kept in sync (`import invoices --sync`), on SQLite and PostgreSQL.

The invoices of the shared payments fixture are the ERP's; each test exports a changed open-items
list and checks the invoice, its case and its audit trail.
"""
from __future__ import annotations

from decimal import Decimal

from tests.integration.test_payments import Dunflow, dunflow, open_amount  # noqa: F401 - fixture

HEADER = "number,debtor_code,currency,amount,open_amount,issue_date,due_date,status"


def export(cli: Dunflow, *rows: str) -> str:
    return cli.file("open-items.csv", "\n".join((HEADER, *rows)) + "\n")


def test_sync_applies_lower_open_amounts_paid_and_cancelled_statuses_with_an_audit_trail(dunflow: Dunflow) -> None:
    path = export(dunflow, "P-100,DP1,EUR,100.00,0.00,2026-09-01,2026-10-01,paid",
                  "P-200,DP2,EUR,500.00,350.00,2026-09-01,2026-10-01,open",
                  "P-300,DP3,EUR,100.00,,2026-09-01,2026-10-01,cancelled",
                  "P-600,DP6,EUR,123.45,123.45,2026-09-01,2026-10-01,open")
    out = dunflow("import", "invoices", "--sync", path)
    assert "2 reduced or paid" in out and "1 cancelled" in out and "1 unchanged" in out
    assert dunflow.invoice("P-100")["state"] == "paid"
    assert open_amount(dunflow, "P-200") == Decimal("350.00")
    assert "ERP sync (open-items.csv)" in dunflow.invoice("P-200")["actions"][-1]["rule"]
    assert dunflow.invoice("P-300")["state"] == "cancelled"
    assert open_amount(dunflow, "P-400") == Decimal("80.00"), "not a full export: missing invoices stay open"


def test_a_full_export_closes_what_is_missing_and_a_draft_is_never_dunned(dunflow: Dunflow) -> None:
    path = export(dunflow, "P-200,DP2,EUR,500.00,500.00,2026-09-01,2026-10-01,open",
                  "P-900,DP2,EUR,70.00,70.00,2026-09-01,2026-10-01,draft")
    out = dunflow("import", "invoices", "--sync", "--full", path)
    assert "drafts skipped" in out
    assert dunflow.invoice("P-100")["state"] == "paid"
    assert "not in the full open-items export" in dunflow.invoice("P-100")["actions"][-1]["rule"]
    assert dunflow.invoice("P-200")["state"] == "new"
    assert dunflow.query("SELECT count(*) FROM invoices WHERE number = 'P-900'")[0][0] == 0


def test_a_plain_import_skips_draft_invoices(dunflow: Dunflow) -> None:
    out = dunflow("import", "invoices", export(dunflow, "P-901,DP2,EUR,70.00,70.00,2026-09-01,2026-10-01,draft"))
    assert "1 drafts skipped" in out
    assert dunflow.query("SELECT count(*) FROM invoices WHERE number = 'P-901'")[0][0] == 0


def test_a_higher_open_amount_reopens_a_paid_invoice_where_its_dunning_stood(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-12", "--send")  # the reminder reached the debtor: dunning stood there
    dunflow("payment", "add", "P-200", "500.00", "--date", "2026-10-13")
    assert dunflow.invoice("P-200")["state"] == "paid"
    dunflow("import", "invoices", "--sync", export(dunflow, "P-200,DP2,EUR,500.00,500.00,2026-09-01,2026-10-01,open"))
    shown = dunflow.invoice("P-200")
    assert (shown["state"], Decimal(shown["open_amount"])) == ("reminder", Decimal("500.00"))


def test_a_row_whose_currency_or_debtor_changed_is_refused_and_nothing_changes(dunflow: Dunflow) -> None:
    counts = dunflow.counts()
    path = export(dunflow, "P-100,DP1,USD,100.00,0.00,2026-09-01,2026-10-01,paid",
                  "P-200,DP1,EUR,500.00,0.00,2026-09-01,2026-10-01,paid")
    out = dunflow("import", "invoices", "--sync", path, code=1)
    assert "open-items.csv:2:3" in out and "is in EUR, the ERP now says USD" in out
    assert "open-items.csv:3:2" in out and "belongs to another debtor" in out
    assert dunflow.counts() == counts and open_amount(dunflow, "P-200") == Decimal("500.00")


def test_a_credited_amount_is_recorded_in_the_audit_trail(dunflow: Dunflow) -> None:
    dunflow("import", "invoices", "--sync", export(dunflow, "P-200,DP2,EUR,400.00,400.00,2026-09-01,2026-10-01,credited"))
    shown = dunflow.invoice("P-200")
    assert (Decimal(shown["amount"]), Decimal(shown["open_amount"])) == (Decimal("400.00"), Decimal("400.00"))
    rules = [action["rule"] for action in shown["actions"]]
    assert any("amount 500.00 → 400.00 EUR in the ERP" in rule for rule in rules)
    assert any("credited, 400.00 EUR open in the ERP" in rule for rule in rules)
