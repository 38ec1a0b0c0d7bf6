"""Exit codes: 1 for a user's mistake (clean message), 3 for a crash (one line, traceback in a log), --debug."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dunflow.cli.crash import CRASH_LOG, report_crash
from dunflow.cli.main import EXIT_CRASH, main
from dunflow.reporting import report


def _crashing_status(*_: object) -> dict[str, object]:
    """A bug inside a service: what `status` would do if its query had an arithmetic mistake."""
    return {"ratio": 1 / 0}


def test_a_user_error_exits_1_with_a_message_and_no_traceback(project_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_dir), "show", "invoice", "NOPE"])
    assert result.exit_code == 1
    assert "error: unknown invoice 'NOPE'" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.output and not (project_dir / CRASH_LOG).exists()


def test_a_crash_exits_3_with_one_line_pointing_at_the_crash_log(project_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "status", _crashing_status)
    result = CliRunner().invoke(main, ["--project", str(project_dir), "status"])
    assert result.exit_code == EXIT_CRASH == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ZeroDivisionError" in lines[0] and "bug in dunflow" in lines[0]
    assert str(project_dir / CRASH_LOG) in lines[0] and "--debug" in lines[0]
    assert "Traceback" not in result.output
    log = (project_dir / CRASH_LOG).read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and "_crashing_status" in log and "ZeroDivisionError" in log


def test_a_crash_outside_a_project_is_logged_in_the_temporary_folder(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    logs, outside = tmp_path / "tmp", tmp_path / "elsewhere"
    logs.mkdir()
    outside.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(logs))
    monkeypatch.chdir(outside)
    try:
        _crashing_status()
    except ZeroDivisionError as exc:
        written = report_crash(exc, None)
    assert written == logs / CRASH_LOG
    assert "ZeroDivisionError" in written.read_text(encoding="utf-8")
    assert not (outside / CRASH_LOG).exists()


def test_debug_lets_the_crash_through_with_its_traceback(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "status", _crashing_status)
    result = CliRunner().invoke(main, ["--project", str(project_dir), "--debug", "status"])
    assert isinstance(result.exception, ZeroDivisionError)
    assert not (project_dir / CRASH_LOG).exists()


def test_wrong_usage_keeps_clicks_exit_code_2(project_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_dir), "run", "--as-of", "yesterday"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_a_closed_pipe_is_not_reported_as_a_crash(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dunflow status --format json | head -1`: the reader went away; that is no bug in dunflow."""
    def reader_gone(*_: object) -> dict[str, object]:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(report, "status", reader_gone)
    result = CliRunner().invoke(main, ["--project", str(project_dir), "status"])
    assert result.exit_code == 1 and "bug" not in result.output
    assert not (project_dir / CRASH_LOG).exists()


def test_the_crash_log_does_not_keep_the_database_password(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_connect(*_: object) -> dict[str, object]:
        raise RuntimeError("could not use postgresql+psycopg://ar:s3cret@db.example/dunning\nsecond line")

    monkeypatch.setattr(report, "status", failing_connect)
    monkeypatch.setattr("sys.argv", ["dunflow", "--database", "postgresql://ar:s3cret@db.example/dunning", "status"])
    result = CliRunner().invoke(main, ["--project", str(project_dir), "status"])
    assert result.exit_code == 3 and len(result.stderr.strip().splitlines()) == 1
    log = (project_dir / CRASH_LOG).read_text(encoding="utf-8")
    assert "s3cret" not in log + result.stderr
    assert "postgresql://ar:***@db.example/dunning" in log and "postgresql+psycopg://ar:***@db.example" in log
