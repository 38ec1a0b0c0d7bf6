"""SQLite: readers never queue behind a writer (WAL snapshot, deferred BEGIN); writers still serialise."""
from __future__ import annotations

import json
import sqlite3
import time
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from dunflow.cli.main import main
from dunflow.clock import SystemClock
from dunflow.store.db import make_engine
from dunflow.store.uow import Store

INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
L-1,DL1,EUR,1000.00,,2026-09-01,2026-10-15,Alpha GmbH,business,DE,de,ap@alpha.example
"""


def invoke(project: Path, database: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), "--database", database, *args],
                              catch_exceptions=False)


@pytest.fixture
def database(project_dir: Path, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'locking.db'}"
    (tmp_path / "locking.csv").write_text(INVOICES, encoding="utf-8")
    assert invoke(project_dir, url, "import", "invoices", str(tmp_path / "locking.csv")).exit_code == 0
    assert invoke(project_dir, url, "run", "--as-of", "2026-11-16").exit_code == 0
    return url


@pytest.fixture
def open_write_transaction(database: str) -> Iterator[sqlite3.Connection]:
    """Another process's writer, mid-transaction: the write lock taken and a change not yet committed."""
    writer = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE invoices SET open_amount = '1.00' WHERE number = 'L-1'")
    yield writer
    writer.execute("ROLLBACK")
    writer.close()


def timed(project: Path, database: str, *args: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = invoke(project, database, *args)
    return result, time.monotonic() - started


def test_status_and_show_complete_while_a_writer_holds_its_transaction(
        project_dir: Path, database: str, open_write_transaction: sqlite3.Connection) -> None:
    status, status_seconds = timed(project_dir, database, "status", "--as-of", "2026-11-16", "--format", "json")
    shown, show_seconds = timed(project_dir, database, "show", "invoice", "L-1", "--format", "json")
    assert (status.exit_code, shown.exit_code) == (0, 0), status.output + shown.output
    assert json.loads(status.stdout)["cases"]  # it read the portfolio
    assert json.loads(shown.stdout)["open_amount"] == "1000.00"  # the committed snapshot, not the writer's change
    assert status_seconds < 5 and show_seconds < 5  # the busy timeout is 30 s: a queued reader would wait it out


def test_a_writing_unit_of_work_still_waits_for_the_writer_and_a_reading_one_does_not(
        database: str, open_write_transaction: sqlite3.Connection) -> None:
    engine = make_engine(database)

    @event.listens_for(engine, "connect")  # runs after dunflow's own tuning: give up after 0.2 s, not 30 s
    def _short_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=200")

    store = Store(engine, SystemClock())
    try:
        with store.reading() as uow:
            assert uow.cases.due_keys(date(2026, 12, 31))  # reads the committed cases at once
        with pytest.raises(OperationalError, match="database is locked"):
            with store.writing():
                pass  # BEGIN IMMEDIATE: writers serialise, so no read-modify-write interleaves
    finally:
        engine.dispose()
