"""`dunflow init`: a working project, or nothing at all."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from dunflow.cli.main import main
from tests.conftest import POSTGRES_URL


def test_init_creates_a_project_that_validates(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "demo")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "dunflow import debtors debtors.csv" in result.output
    checked = CliRunner().invoke(main, ["--project", str(tmp_path / "demo"), "validate"], catch_exceptions=False)
    assert checked.exit_code == 0 and "3 policies valid" in checked.output


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "demo")], catch_exceptions=False)
    assert result.exit_code == 1 and "not empty" in result.output
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["notes.txt"]


def test_init_with_a_database_it_cannot_set_up_leaves_nothing_behind(tmp_path: Path) -> None:
    if os.environ.get("DUNFLOW_SKIP_POSTGRES") == "1":
        pytest.skip("DUNFLOW_SKIP_POSTGRES=1")
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3Dno_such_schema_here"
    result = CliRunner().invoke(main, ["--database", url, "init", str(tmp_path / "demo")], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "cannot set up the database schema" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "demo").exists()
