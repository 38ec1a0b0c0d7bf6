"""Payment links end to end: `links:` in dunflow.yaml → `payment_link` in the rendered notice →
`dunflow link verify` names the notice; expired and forged tokens exit 1; a missing secret stops the run."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from dunflow.cli.main import main

INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
R-1,B1,EUR,1190.00,1190.00,2026-09-01,2026-10-01,Alpha GmbH,business,DE,de,ap@alpha.example
"""
LINKS = "\nlinks:\n  base_url: https://pay.example.com/p\n  secret_env: TEST_LINK_SECRET\n  valid_days: 30\n"


def cli(project: Path, database: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--project", str(project), "--database", database, *args],
                                catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def bodies(database: str) -> list[str]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("SELECT body FROM outbox ORDER BY id"))]
    finally:
        engine.dispose()


@pytest.fixture
def project(project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with open(project_dir / "dunflow.yaml", "a", encoding="utf-8") as config:
        config.write(LINKS)
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    monkeypatch.setenv("TEST_LINK_SECRET", "a-long-random-test-secret")
    return project_dir


def test_a_notice_carries_a_link_that_verify_names(project: Path, database_url: str, tmp_path: Path) -> None:
    cli(project, database_url, "import", "invoices", str(tmp_path / "invoices.csv"))
    cli(project, database_url, "run", "--as-of", "2026-10-08")
    [body] = bodies(database_url)  # the shipped templates print the link when there is one
    assert body.count("Online bezahlen:") == 1
    link = re.search(r"Online bezahlen: (https://pay\.example\.com/p/(\S+))", body)
    assert link, body
    token = link.group(2)
    checked = json.loads(cli(project, database_url, "link", "verify", token, "--as-of", "2026-10-20",
                             "--format", "json").stdout)
    assert checked["status"] == "valid"
    assert checked["notice"]["invoices"] == ["R-1"] and checked["notice"]["debtor"] == "B1"
    assert checked["notice"]["step"] == "reminder" and checked["notice"]["expires_on"] == "2026-11-07"
    whole = cli(project, database_url, "link", "verify", link.group(1), "--as-of", "2026-11-07").stdout
    assert whole.startswith("valid: reminder to debtor B1 for R-1")
    expired = json.loads(cli(project, database_url, "link", "verify", token, "--as-of", "2026-11-08",
                             "--format", "json", code=1).stdout)
    assert expired["status"] == "expired" and expired["notice"]["invoices"] == ["R-1"]
    forged_token = token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    assert cli(project, database_url, "link", "verify", forged_token, code=1).stdout.startswith("forged:")


def test_a_configured_link_without_its_secret_stops_the_run_before_anything_changes(
        project: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli(project, database_url, "import", "invoices", str(tmp_path / "invoices.csv"))
    monkeypatch.delenv("TEST_LINK_SECRET")
    result = cli(project, database_url, "run", "--as-of", "2026-10-08", code=1)
    assert "TEST_LINK_SECRET is not set" in result.output
    assert bodies(database_url) == []


def test_without_links_the_notice_has_no_link_line(project_dir: Path, database_url: str, tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    cli(project_dir, database_url, "import", "invoices", str(tmp_path / "invoices.csv"))
    cli(project_dir, database_url, "run", "--as-of", "2026-10-08")
    [body] = bodies(database_url)
    assert "Online bezahlen" not in body and "Verwendungszweck: R-1\n\nBitte" in body
    assert "no payment links configured" in cli(project_dir, database_url, "link", "verify", "x.y", code=1).output
