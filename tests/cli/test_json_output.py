"""`--format json` on every writing command: what it did, checked against what the database then shows.

Runs on SQLite and PostgreSQL. The JSON shapes are documented in README ('JSON output').
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dunflow.cli.main import main

INVOICES = """\
number,debtor_code,currency,amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_email
J-1,DJ1,EUR,100.00,2026-09-01,2026-10-01,Jota GmbH,business,DE,ap@jota.example
J-2,DJ1,EUR,200.00,2026-09-15,2026-10-15,Jota GmbH,business,DE,ap@jota.example
J-3,DJ2,EUR,300.00,2026-09-01,2026-10-01,Kappa AG,business,DE,ap@kappa.example
J-4,DJ3,EUR,400.00,2026-10-01,2026-11-01,Lambda KG,business,DE,ap@lambda.example
"""


class Dunflow:
    """The CLI on one project and database; `json(...)` runs a command with --format json and parses stdout."""

    def __init__(self, project: Path, database: str) -> None:
        self.base = ["--project", str(project), "--database", database]

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        result = CliRunner().invoke(main, [*self.base, *args], input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self(*args, "--format", "json", stdin=stdin))

    def invoice(self, number: str) -> dict[str, Any]:
        return self.json("show", "invoice", number)  # type: ignore[no-any-return]


@pytest.fixture
def dunflow(project_dir: Path, database_url: str) -> Dunflow:
    cli = Dunflow(project_dir, database_url)
    imported = cli.json("import", "invoices", "-", stdin=INVOICES)
    assert imported == {"kind": "invoices", "file": "-", "created": 4, "unchanged": 0, "debtors_created": 3}
    return cli


def test_init_says_which_files_it_created(tmp_path: Path, database_url: str) -> None:
    result = CliRunner().invoke(main, ["--database", database_url, "init", str(tmp_path / "p"), "--format", "json"],
                                catch_exceptions=False)
    data = json.loads(result.stdout)
    on_disk = sorted(str(p.relative_to(tmp_path / "p")) for p in (tmp_path / "p").rglob("*") if p.is_file())
    assert data["project"] == str(tmp_path / "p") and data["sample_data"] is True
    assert set(data["files"]) <= set(on_disk) and "dunflow.yaml" in data["files"] and "invoices.csv" in data["files"]


def test_run_and_send_report_counts_that_match_the_outbox(dunflow: Dunflow) -> None:
    ran = dunflow.json("run", "--as-of", "2026-12-01")
    pending = dunflow.json("outbox", "--status", "pending")
    assert ran["advanced"] == ran["due"] == 4 and ran["messages"] == len(pending) > 0
    assert sum(ran["steps"].values()) >= ran["advanced"]
    sent = dunflow.json("send")
    assert (sent["sent"], sent["failed"], sent["withdrawn"]) == (len(pending), 0, 0)
    assert len(dunflow.json("outbox", "--status", "sent")) == sent["sent"]
    later = dunflow.json("run", "--as-of", "2026-12-31", "--send")
    assert later["sent"]["sent"] == later["messages"]


def test_event_commands_report_the_state_the_invoice_is_then_in(dunflow: Dunflow) -> None:
    opened = dunflow.json("dispute", "open", "J-3", "--reason", "wrong goods", "--date", "2026-11-01")
    assert opened == {"invoice": "J-3", "state": dunflow.invoice("J-3")["state"], "reason": "wrong goods"}
    resolved = dunflow.json("dispute", "resolve", "J-3", "--cancel", "--date", "2026-11-05")
    assert resolved == {"invoice": "J-3", "state": "cancelled", "outcome": "cancel"}
    assert dunflow.invoice("J-3")["state"] == "cancelled"
    promised = dunflow.json("promise", "J-4", "--date", "2026-12-20", "--amount", "400.00", "--on", "2026-12-01")
    assert (promised["invoice"], promised["pay_by"], promised["amount"]) == ("J-4", "2026-12-20", "400.00")
    assert date.fromisoformat(promised["check_on"]) > date(2026, 12, 20)  # the date plus the policy's grace
    held = dunflow.json("hold", "DJ1", "--until", "2027-01-15", "--reason", "insolvency check", "--date", "2026-11-02")
    assert held == {"debtor": "DJ1", "until": "2027-01-15", "reason": "insolvency check", "invoices": 2}
    assert {dunflow.invoice(n)["state"] for n in ("J-1", "J-2")} == {"held"}
    released = dunflow.json("release", "DJ1", "--date", "2026-11-03")
    assert released == {"debtor": "DJ1", "invoices": 2}
    assert "held" not in {dunflow.invoice(n)["state"] for n in ("J-1", "J-2")}


def test_arrangement_create_reports_the_id_that_show_finds(dunflow: Dunflow) -> None:
    created = dunflow.json("arrangement", "create", "J-1", "J-2", "--installments", "3", "--first-due", "2026-12-15",
                           "--date", "2026-12-01")
    shown = dunflow.json("arrangement", "show", str(created["arrangement"]))
    assert shown["invoices"] == created["invoices"] == ["J-1", "J-2"]
    assert len(shown["installments"]) == created["installments"] == 3


def test_payments_report_what_was_applied_to_which_invoice(dunflow: Dunflow) -> None:
    paid = dunflow.json("payments", "add", "J-4", "150.00", "--date", "2026-11-10", "--reference", "BK-1")
    assert (paid["external_id"], paid["amount"], paid["currency"], paid["status"]) == ("BK-1", "150.00", "EUR",
                                                                                      "matched")
    assert paid["applied"] == [{"invoice": "J-4", "amount": "150.00", "open_amount": "250.00",
                                "state": dunflow.invoice("J-4")["state"]}]
    assert dunflow.invoice("J-4")["open_amount"] == "250.00"
    imported = dunflow.json("import", "payments", "-", stdin="id,date,amount,currency,reference\n"
                                                              "BK-2,2026-11-11,33.33,EUR,thanks\n")
    assert (imported["recorded"], imported["unmatched"]) == (1, 1)
    entry = imported["payments"][0]
    assert (entry["external_id"], entry["unallocated"]) == ("BK-2", "33.33")
    assigned = dunflow.json("payments", "assign", str(entry["id"]), "J-3")
    assert assigned["applied"][0]["invoice"] == "J-3" and assigned["unallocated"] == "0.00"
    assert dunflow.invoice("J-3")["open_amount"] == "266.67"


def test_the_old_payment_group_still_works_but_is_not_advertised(dunflow: Dunflow) -> None:
    paid = dunflow.json("payment", "add", "J-1", "100.00", "--date", "2026-11-10")
    assert paid["applied"][0]["open_amount"] == "0.00" and dunflow.invoice("J-1")["state"] == "paid"
    listed = [line.split()[0] for line in dunflow("--help").split("Commands:")[1].splitlines() if line.strip()]
    assert "payments" in listed and "payment" not in listed
