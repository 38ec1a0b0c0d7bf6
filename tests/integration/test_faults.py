"""Faults and hostile data the CLI must answer with one clean line: a database that goes away, a password in a
URL, terminal escapes in debtor data, a payment import racing a run on PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.cli.main import main
from tests.integration.test_run import HEADER, Dunflow, write_csv

DUNFLOW = str(Path(sys.executable).parent / "dunflow")


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://dunning:s3cr3t-Pa55@127.0.0.1:1/nowhere",  # no server there
    "postgresql+psycopg://dunning:s3cr3t-Pa55@127.0.0.1:notaport/x",  # a port that is no number
    "nosuchdb://dunning:s3cr3t-Pa55@host/x",  # an unknown dialect: the URL is quoted, masked
    "postgresql+psycopg://dunning:s3cr3t-Pa55@127.0.0.1:5432/test",  # the server refuses the role
])
def test_a_bad_database_url_is_a_user_error_that_never_prints_its_password(project_dir: Path, url: str) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_dir), "--database", url, "status"])
    assert result.exit_code == 1, result.output
    assert "s3cr3t-Pa55" not in result.output
    assert result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output
    if "://dunning" in result.output:
        assert "dunning:***@" in result.output


def test_terminal_escapes_are_refused_at_import_and_shown_escaped_where_they_got_in(database_url: str,
                                                                                    tmp_path: Path) -> None:
    project_dir = tmp_path / "demo"
    cli = Dunflow(project_dir, database_url)
    cli("init", str(project_dir))
    hostile = "Evil \x1b]0;pwned\x07GmbH"
    refused = cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"{HEADER}\n"
                  f"E-1,EV1,EUR,100.00,,2026-10-01,2026-11-01,\"{hostile}\",business,DE,de,ap@evil.example\n")),
                  code=1)
    assert "i.csv:2:8: error: column 'debtor_name' holds the control character U+001B" in refused.output
    assert "\x1b" not in refused.output
    cli("import", "debtors", str(project_dir / "debtors.csv"))
    cli("import", "invoices", str(project_dir / "invoices.csv"))
    # a payment reference is free text from a bank or a person: kept as given, never echoed raw
    added = cli("payments", "add", "INV-1001", "1.00", "--date", "2026-11-30", "--reference",
                "ref\x1b[2J\u202eX").output
    shown = cli("show", "invoice", "INV-1001").output
    for output in (added, shown):
        assert "\x1b" not in output and "\u202e" not in output
        assert "ref\\x1b[2J\\u202eX" in output, output


@pytest.mark.postgres
def test_a_lost_connection_is_one_line_with_exit_4_and_the_rerun_completes(tmp_path: Path) -> None:
    from tests.conftest import _postgres_schema_url

    urls = _postgres_schema_url()
    database = next(urls)
    try:
        project = tmp_path / "demo"
        cli = Dunflow(project, database)
        cli("init", str(project))
        cli("import", "debtors", str(project / "debtors.csv"))
        cli("import", "invoices", str(project / "invoices.csv"))
        app = f"dunflow-lost-{uuid.uuid4().hex[:8]}"
        admin = create_engine(database)
        with admin.connect() as blocker:
            blocker.execute(text("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE"))  # the run waits here, mid-command
            process = subprocess.Popen([DUNFLOW, *cli.base, "run", "--as-of", "2026-12-01"], text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       env={**os.environ, "PGAPPNAME": app})
            _terminate_when_waiting(admin, app)
            blocker.rollback()
        out, err = process.communicate(timeout=60)
        admin.dispose()
        assert process.returncode == 4, err
        assert "error: database connection lost" in err
        assert "run the command again" in err
        assert "Traceback" not in err and "SELECT" not in err and "[SQL" not in err
        assert len(err) < 400, err
        assert cli.query("SELECT count(*) FROM actions")[0][0] == 0  # nothing of the interrupted run was kept
        cli("run", "--as-of", "2026-12-01")
        assert cli.query("SELECT count(*) FROM actions")[0][0] > 0
    finally:
        next(urls, None)


def _terminate_when_waiting(admin: object, app: str) -> None:
    """Kill the backend of `app` once it waits for the table lock (a real pg_terminate_backend, as an operator
    or a failover would)."""
    assert hasattr(admin, "connect")
    deadline = time.monotonic() + 60
    with admin.connect() as watcher:  # type: ignore[attr-defined]
        while time.monotonic() < deadline:
            killed = watcher.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE application_name = :app AND wait_event_type = 'Lock'"),
                                     {"app": app}).scalars().all()
            watcher.commit()
            if killed:
                return
            time.sleep(0.05)
    raise AssertionError("the run never waited for the lock")


@pytest.mark.postgres
def test_a_payment_import_racing_a_run_loses_nothing_and_crashes_neither(tmp_path: Path) -> None:
    """The import locks debtors before invoices, in the runner's order; a batch that still loses a deadlock or
    a serialization conflict is retried. Both commands finish, every payment is booked once."""
    from tests.conftest import _postgres_schema_url

    urls = _postgres_schema_url()
    database = next(urls)
    try:
        project = tmp_path / "demo"
        cli = Dunflow(project, database)
        cli("init", str(project))
        rows = [f"N-{n:04d},ND-{n % 40:03d},EUR,{100 + n}.00,,2026-08-01,2026-09-01,Debtor {n % 40},business,DE,de,"
                f"d{n % 40}@example.com" for n in range(400)]
        cli("import", "invoices", str(write_csv(tmp_path, "i.csv", HEADER + "\n" + "\n".join(rows) + "\n")))
        # payments in the reverse order of the debtors, the order most likely to cross the run's locks
        payments = ["id,date,amount,currency,reference"] + [
            f"P-{n:04d},2026-11-30,10.00,EUR,N-{n:04d}" for n in reversed(range(400))]
        payment_file = write_csv(tmp_path, "p.csv", "\n".join(payments) + "\n")
        run = subprocess.Popen([DUNFLOW, *cli.base, "run", "--as-of", "2026-12-01"], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pay = subprocess.Popen([DUNFLOW, *cli.base, "import", "payments", str(payment_file)], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for process in (run, pay):
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err
            assert "Traceback" not in err and "Deadlock" not in err, err
        assert cli.query("SELECT count(*) FROM payments")[0][0] == 400
        queued = cli.query("SELECT count(*) FROM outbox")[0][0]
        assert queued > 0
        cli("run", "--as-of", "2026-12-01")  # the raced run left nothing undone and did nothing twice
        assert cli.query("SELECT count(*) FROM outbox")[0][0] == queued
    finally:
        next(urls, None)
