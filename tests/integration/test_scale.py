"""At scale: `status` counts from an index alone; several workers share one due set; runs killed at random."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.bootstrap import Workspace
from dunflow.cli.main import main
from dunflow.reporting.report import status
from dunflow.scaffold import init_project
from tests.conftest import _postgres_schema_url
from tests.integration.test_run import (
    HEADER,
    KILLED_APP,
    Dunflow,
    big_portfolio,
    sent_steps,
    wait_until_server_let_go,
)

STATUS_COUNT = ("SELECT policy_version_id, state, count(*) FROM cases GROUP BY policy_version_id, state")


def test_status_counts_cases_per_policy_and_state_from_an_index_alone(tmp_path: Path, database_url: str) -> None:
    project = tmp_path / "demo"
    init_project(project)  # with the sample invoices
    ws = Workspace.open(project, database_url)
    for kind in ("debtors", "invoices"):
        result = CliRunner().invoke(main, ["--project", str(project), "--database", database_url, "import", kind,
                                           str(project / f"{kind}.csv")], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with ws.store.reading() as uow:
        data = status(uow, ws.clock.today())
    engine = create_engine(database_url)
    with engine.connect() as connection:
        expected = {(name, state): count for name, state, count in connection.execute(text(
            "SELECT v.name, c.state, count(*) FROM cases c JOIN policy_versions v ON v.id = c.policy_version_id "
            "GROUP BY v.name, c.state"))}
        if engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.execute(text("EXPLAIN QUERY PLAN " + STATUS_COUNT)))
            assert "COVERING INDEX ix_cases_version_state" in plan, plan
        else:
            connection.execute(text("SET enable_seqscan = off"))
            plan = " ".join(row[0] for row in connection.execute(text("EXPLAIN " + STATUS_COUNT)))
            assert "Index Only Scan using ix_cases_version_state" in plan, plan
    engine.dispose()
    assert {(r["policy"], r["state"]): r["cases"] for r in data["cases"]} == expected
    assert sum(expected.values()) > 0


# --- several workers on one due set (PostgreSQL) ----------------------------------------------------------


def cli(project: Path, database: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), "--database", database, *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def query(database: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


SENT = ("SELECT i.number, a.kind, a.step, a.channel, a.message_key FROM actions a "
        "JOIN cases c ON c.id = a.case_id JOIN invoices i ON i.id = c.invoice_id")
NOTICES = ("SELECT d.code, o.step, o.channel, o.invoice_numbers FROM outbox o JOIN debtors d ON d.id = o.debtor_id")
STATES = "SELECT i.number, c.state, c.revision FROM cases c JOIN invoices i ON i.id = c.invoice_id ORDER BY i.number"


def notices(database: str) -> Counter[str]:
    return Counter(repr((code, step, channel, sorted(numbers if isinstance(numbers, list) else json.loads(numbers))))
                   for code, step, channel, numbers in query(database, NOTICES))


def set_batch_size(project: Path, size: int) -> None:
    config = project / "dunflow.yaml"
    config.write_text(re.sub(r"(?m)^batch_size: \d+$", f"batch_size: {size}", config.read_text()))


@pytest.fixture
def postgres() -> Iterator[str]:
    yield from _postgres_schema_url()


def test_four_workers_on_one_due_set_miss_nothing_duplicate_nothing_and_never_split_a_grouped_notice(
        tmp_path: Path, postgres: str) -> None:
    project = tmp_path / "demo"
    init_project(project, sample_data=False)
    set_batch_size(project, 10)
    portfolio = big_portfolio(tmp_path, debtors=300)  # several invoices per business debtor: grouped notices
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    for database in (postgres, clean):
        cli(project, database, "import", "invoices", str(portfolio))
    alone = json.loads(cli(project, clean, "run", "--as-of", "2026-12-01", "--format", "json"))
    assert alone["advanced"] > 200

    shared = json.loads(cli(project, postgres, "run", "--as-of", "2026-12-01", "--workers", "4", "--format", "json"))

    assert len(shared["workers"]) == 4
    assert sum(1 for w in shared["workers"] if w["advanced"] > 0) >= 2, shared["workers"]  # they did share it
    assert shared["advanced"] == alone["advanced"] and shared["messages"] == alone["messages"]  # 0 missed
    assert query(postgres, "SELECT key FROM outbox GROUP BY key HAVING count(*) > 1") == []  # 0 duplicates
    assert query(postgres, "SELECT idempotency_key FROM actions GROUP BY idempotency_key HAVING count(*) > 1") == []
    assert query(postgres, "SELECT count(*) FROM runs") == [(1,)]
    assert notices(postgres) == notices(clean)  # the same notices, each listing the same invoices: none split
    assert Counter(row[:4] for row in query(postgres, SENT)) == Counter(row[:4] for row in query(clean, SENT))
    assert query(postgres, STATES) == query(clean, STATES)
    assert query(postgres, "SELECT count(*) FROM cases WHERE next_action_at <= '2026-12-01'") == [(0,)]


def test_workers_are_refused_on_sqlite_with_a_hint(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    init_project(project, sample_data=False)
    result = CliRunner().invoke(main, ["--project", str(project), "run", "--workers", "2"])
    assert result.exit_code == 1
    assert "--workers 2 needs PostgreSQL" in result.output and "hint:" in result.output


# --- kill -9 at random points ---------------------------------------------------------------------------

RUN_DATES = ("2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22")
KILLS_PER_DATE = 5
MAX_TRIES_PER_DATE = 12


def killed_at_random(runner: Dunflow, as_of: str, delay: float, log: Path) -> tuple[bool, float]:
    """`dunflow run` in its own process, SIGKILLed `delay` seconds after it started (if still running); whether it
    was killed, and how long it lived."""
    command = [str(Path(sys.executable).parent / "dunflow"), *runner.base, "--quiet", "run", "--as-of", as_of]
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PGAPPNAME": KILLED_APP})
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    lived = time.monotonic() - started
    killed = process.returncode == -signal.SIGKILL
    assert killed or process.returncode == 0, log.read_text()
    if killed:
        wait_until_server_let_go(runner)
    return killed, lived


def test_runs_killed_at_random_points_twenty_times_record_every_due_step_exactly_once(
        project_dir: Path, database_url: str, tmp_path: Path) -> None:
    set_batch_size(project_dir, 5)
    portfolio = big_portfolio(tmp_path, debtors=120)
    crashed = Dunflow(project_dir, database_url)
    clean = Dunflow(project_dir, f"sqlite:///{tmp_path / 'clean.db'}")
    for runner in (crashed, clean):
        runner("import", "invoices", str(portfolio))
    chance = random.Random(19)  # the same "random" points on every run of the suite
    kills = 0
    for as_of in RUN_DATES:
        clean("run", "--as-of", as_of)
        landed, latest = 0, 3.0
        for n in range(MAX_TRIES_PER_DATE):  # until KILLS_PER_DATE kills landed (a run may finish first)
            killed, lived = killed_at_random(crashed, as_of, chance.uniform(0.2, latest),
                                             tmp_path / f"kill-{as_of}-{n}.log")
            landed += killed
            if not killed:  # it ended first (a faster machine, less left to do): draw within such a lifetime
                latest = max(0.3, 0.9 * lived)
            if landed == KILLS_PER_DATE:
                break
        kills += landed
        crashed("run", "--as-of", as_of)  # the rerun finishes the day

        assert crashed.query("SELECT idempotency_key FROM actions GROUP BY idempotency_key HAVING count(*) > 1") == []
        assert crashed.query("SELECT key FROM outbox GROUP BY key HAVING count(*) > 1") == []
        assert sent_steps(crashed) == sent_steps(clean), as_of  # every due step once: none lost, none twice
        assert Counter(map(repr, crashed.outbox())) == Counter(map(repr, clean.outbox()))
        assert [tuple(map(str, row)) for row in crashed.cases()] == [tuple(map(str, row)) for row in clean.cases()]
    assert kills >= 20, f"only {kills} of the runs were killed before they ended"
