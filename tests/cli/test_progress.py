"""Progress bars: shown on a terminal, on stderr only; absent with --quiet and when the output is captured."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dunflow.cli.main import main

ENTRY = "import sys; from dunflow.cli import main; main(sys.argv[1:], prog_name='dunflow')"


@pytest.fixture
def loaded(project_dir: Path) -> Path:
    """The sample project with its debtors and invoices imported (SQLite)."""
    for kind in ("debtors", "invoices"):
        result = CliRunner().invoke(main, ["--project", str(project_dir), "import", kind,
                                           str(project_dir / f"{kind}.csv")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return project_dir


def on_terminals(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stdout and stderr on two pseudo-terminals; the exit code and what each one showed."""
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        env.pop(name, None)
    child = subprocess.Popen([sys.executable, "-c", ENTRY, *args], stdin=subprocess.DEVNULL,
                             stdout=out_slave, stderr=err_slave, env=env)
    os.close(out_slave)
    os.close(err_slave)
    shown = {out_master: b"", err_master: b""}
    open_ends = [out_master, err_master]
    while open_ends:
        ready, _, _ = select.select(open_ends, [], [], 60)
        assert ready, "the command hung"
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed its end of the terminal
                data = b""
            if data:
                shown[fd] += data
            else:
                open_ends.remove(fd)
                os.close(fd)
    return child.wait(timeout=60), shown[out_master].decode(errors="replace"), shown[err_master].decode(errors="replace")


def test_a_run_on_a_terminal_shows_progress_on_stderr(loaded: Path) -> None:
    code, out, err = on_terminals("--project", str(loaded), "run", "--as-of", "2026-12-01")
    assert code == 0, out + err
    assert "run 2026-12-01" in err and "━" in err  # the bar, drawn on stderr
    assert "run 2026-12-01" not in out and "2026-12-01: " in out  # stdout has only the summary


def test_send_on_a_terminal_shows_progress_and_json_stays_clean(loaded: Path) -> None:
    assert on_terminals("--project", str(loaded), "run", "--as-of", "2026-12-01")[0] == 0
    code, out, err = on_terminals("--project", str(loaded), "send", "--format", "json")
    assert code == 0, out + err
    assert "send" in err and "━" in err
    assert json.loads(out)["sent"] > 0


def test_quiet_shows_no_progress_even_on_a_terminal(loaded: Path) -> None:
    args = ("import", "invoices", str(loaded / "invoices.csv"))
    code, out, err = on_terminals("--project", str(loaded), *args)
    assert code == 0 and "importing invoices" in err and "already known" in out
    code, out, err = on_terminals("--project", str(loaded), "--quiet", *args)
    assert code == 0, out + err
    assert err == "" and "already known" in out


def test_captured_output_gets_no_progress(loaded: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(loaded), "run", "--as-of", "2026-12-01", "--format", "json"],
                                catch_exceptions=False)
    assert result.stderr == "" and json.loads(result.stdout)["advanced"] > 0
