"""One bad notice does not stop everybody else's: the failing case is left behind, recorded, retried.

Runs on SQLite and PostgreSQL through the CLI, with a template typo that only one debtor's data triggers.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.integration.test_run import INVOICES, Dunflow, write_csv

TYPO = "{% if debtor.code == 'B1' %}{{ debtor.nickname }}{% endif %}"


def break_for_alpha(project: Path) -> dict[Path, str]:
    """Put a typo on line 3 (first line of the body) of every German B2B template, reached only for debtor B1;
    the original texts."""
    originals: dict[Path, str] = {}
    for path in sorted((project / "templates" / "de" / "b2b").glob("*.j2")):
        originals[path] = text = path.read_text(encoding="utf-8")
        subject, body, rest = text.split("\n", 2)
        path.write_text(f"{subject}\n{body}\n{TYPO}\n{rest}", encoding="utf-8")
    return originals


@pytest.fixture
def broken(project_dir: Path, database_url: str, tmp_path: Path) -> tuple[Dunflow, dict[Path, str]]:
    cli = Dunflow(project_dir, database_url)
    cli("import", "invoices", str(write_csv(tmp_path, "invoices.csv", INVOICES)))
    return cli, break_for_alpha(project_dir)


def status(cli: Dunflow) -> dict[str, object]:
    return json.loads(cli("status", "--as-of", "2026-12-01", "--format", "json").stdout)


def test_a_template_error_for_one_debtor_leaves_only_its_cases_behind(broken: tuple[Dunflow, dict[Path, str]]) -> None:
    cli, _ = broken
    result = cli("run", "--as-of", "2026-12-01", "--format", "json", code=1)
    summary = json.loads(result.stdout)
    assert sorted(f["invoice"] for f in summary["failed"]) == ["R-1", "R-2"]
    assert summary["advanced"] == 1  # C1's invoice went on in the same batch
    assert [code for code, *_ in cli.outbox()] and {code for code, *_ in cli.outbox()} == {"C1"}
    assert (cli.invoice("R-1")["state"], cli.invoice("R-2")["state"]) == ("new", "new")
    assert cli.invoice("R-1")["actions"] == []
    assert cli.invoice("R-3")["state"] != "new"


def test_the_error_names_the_templates_own_file_and_line(broken: tuple[Dunflow, dict[Path, str]]) -> None:
    cli, _ = broken
    result = cli("run", "--as-of", "2026-12-01", code=1)
    located = re.search(r"templates/de/b2b/([a-z-]+)\.j2:(\d+): template error: .*nickname", result.stderr)
    assert located, result.stderr
    assert located.group(2) == "3"  # the typo's line, not a line of Jinja2's generated code
    assert "2 case(s) failed" in result.stderr


def test_status_lists_the_failing_cases_until_a_run_gets_them_through(
        broken: tuple[Dunflow, dict[Path, str]]) -> None:
    cli, originals = broken
    cli("run", "--as-of", "2026-12-01", code=1)
    cli("run", "--as-of", "2026-12-02", code=1)  # still broken: retried, counted, still left behind
    failing = status(cli)["failing"]
    assert isinstance(failing, list)
    assert [(f["invoice"], f["debtor"], f["since"], f["attempts"]) for f in failing] == [
        ("R-1", "B1", "2026-12-01", 2), ("R-2", "B1", "2026-12-01", 2)]
    assert "nickname" in failing[0]["error"]
    for path, text in originals.items():
        path.write_text(text, encoding="utf-8")
    summary = json.loads(cli("run", "--as-of", "2026-12-02", "--format", "json").stdout)
    assert summary["failed"] == [] and summary["advanced"] == 2
    assert status(cli)["failing"] == []
    assert {code for code, *_ in cli.outbox()} == {"B1", "C1"}


def test_status_in_a_table_shows_the_failing_cases(broken: tuple[Dunflow, dict[Path, str]]) -> None:
    cli, _ = broken
    cli("run", "--as-of", "2026-12-01", code=1)
    out = cli("status", "--as-of", "2026-12-01").stdout
    assert "Failing cases" in out and "R-1" in out and "B1" in out


def test_a_dry_run_reports_the_failure_but_records_nothing(broken: tuple[Dunflow, dict[Path, str]]) -> None:
    cli, _ = broken
    summary = json.loads(cli("run", "--as-of", "2026-12-01", "--dry-run", "--format", "json", code=1).stdout)
    assert len(summary["failed"]) == 2
    assert status(cli)["failing"] == []
    assert cli.query("SELECT count(*) FROM case_failures") == [(0,)]
