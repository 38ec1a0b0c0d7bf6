"""import → run → outbox → send through the CLI, on SQLite and PostgreSQL, including a run killed mid-way."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from dunflow.cli.main import main

HEADER = ("number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,"
          "debtor_country,debtor_language,debtor_email")
INVOICES = f"""\
{HEADER}
R-1,B1,EUR,1190.00,1190.00,2026-09-01,2026-10-01,Alpha GmbH,business,DE,de,ap@alpha.example
R-2,B1,EUR,250.50,250.50,2026-10-20,2026-11-20,Alpha GmbH,business,DE,de,ap@alpha.example
R-3,C1,EUR,99.00,99.00,2026-10-01,2026-11-01,Jan Jansen,consumer,NL,nl,jan@example.nl
R-4,B2,EUR,500.00,500.00,2026-11-15,2026-12-20,Beta AG,business,DE,de,ar@beta.example
"""
TABLES = ("debtors", "invoices", "cases", "actions", "outbox", "runs")
KILLED_APP = f"dunflow-killed-{os.getpid()}"


class Dunflow:
    """The CLI bound to one project and database; fails the test on an unexpected exit code."""

    def __init__(self, project: Path, database: str) -> None:
        self.project, self.database = project, database
        self.base = ["--project", str(project), "--database", database]

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, [*self.base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    def query(self, sql: str) -> list[Any]:
        engine = create_engine(self.database)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()

    def counts(self) -> dict[str, int]:
        return {table: self.query(f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}

    def cases(self) -> list[Any]:
        return self.query("SELECT id, state, resume_state, last_step_on, next_action_at, revision FROM cases ORDER BY id")

    def outbox(self) -> list[tuple[str, str, str, list[str]]]:
        rows = self.query("SELECT d.code, o.step, o.channel, o.invoice_numbers FROM outbox o "
                          "JOIN debtors d ON d.id = o.debtor_id ORDER BY o.id")
        return [(code, step, channel, numbers if isinstance(numbers, list) else json.loads(numbers))
                for code, step, channel, numbers in rows]

    def invoice(self, number: str) -> dict[str, Any]:
        return json.loads(self("show", "invoice", number, "--format", "json").stdout)


def write_csv(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    cli = Dunflow(project_dir, database_url)
    cli("import", "invoices", str(write_csv(tmp_path, "invoices.csv", INVOICES)))
    return cli


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}


# --- import → run → outbox ------------------------------------------------------------------------


def test_import_creates_one_case_per_invoice_under_the_winning_policy(dunflow: Dunflow) -> None:
    assert dunflow.counts() == dict(debtors=3, invoices=4, cases=4, actions=0, outbox=0, runs=0)
    assert dunflow.invoice("R-1")["policy"] == "b2b-standard"
    assert dunflow.invoice("R-3")["policy"] == "b2c-consumer"


def test_importing_the_same_file_again_changes_nothing(dunflow: Dunflow, tmp_path: Path) -> None:
    before = dunflow.counts()
    out = dunflow("import", "invoices", str(tmp_path / "invoices.csv")).stdout
    assert "0 imported, 4 already known" in out
    assert dunflow.counts() == before


def test_a_run_queues_messages_for_the_due_invoices(dunflow: Dunflow) -> None:
    out = dunflow("run", "--as-of", "2026-12-01", "--format", "json").stdout
    summary = json.loads(out)
    assert (summary["due"], summary["advanced"]) == (3, 3)
    assert summary["messages"] == dunflow.counts()["outbox"] > 0
    assert dunflow.invoice("R-4")["state"] == "new"  # due 2026-12-20: nothing yet


def test_running_again_the_same_day_finds_nothing_due(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-12-01")
    before, cases = dunflow.counts(), dunflow.cases()
    assert "0 due, advanced 0, 0 message(s) queued" in dunflow("run", "--as-of", "2026-12-01").stdout
    after = dunflow.counts()
    assert (after["actions"], after["outbox"]) == (before["actions"], before["outbox"])
    assert dunflow.cases() == cases


def test_a_run_dated_before_the_last_run_is_refused_with_a_hint(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-12-01")
    before = dunflow.counts()
    result = dunflow("run", "--as-of", "2026-11-30", code=1)
    assert "error: a run for 2026-12-01 already happened; 2026-11-30 is earlier" in result.stderr
    assert "hint:" in result.stderr and "--force" in result.stderr
    assert dunflow.counts() == before


def test_a_dry_run_changes_nothing(dunflow: Dunflow) -> None:
    before, cases = dunflow.counts(), dunflow.cases()
    out = dunflow("run", "--as-of", "2026-12-01", "--dry-run").stdout
    assert "dry run: would advance 3" in out and "would send first-notice by email to ap@alpha.example" in out
    assert dunflow.counts() == before
    assert dunflow.cases() == cases
    assert json.loads(dunflow("run", "--as-of", "2026-12-01", "--format", "json").stdout)["advanced"] == 3


def test_overdue_invoices_of_one_business_debtor_share_one_notice_at_the_higher_step(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-12-01")
    assert dunflow.invoice("R-1")["state"] == "first-notice"  # 61 days overdue; first-notice is required
    r2 = dunflow.invoice("R-2")  # 11 days overdue, due a reminder: it goes out on the first notice, and moves with it
    assert r2["state"] == "first-notice"
    assert {a["step"] for a in r2["actions"] if a["kind"] == "step"} == {"first-notice"}
    alpha = [m for m in dunflow.outbox() if m[0] == "B1"]
    assert alpha and all(step == "first-notice" and numbers == ["R-1", "R-2"] for _, step, _, numbers in alpha)
    assert len({channel for _, _, channel, _ in alpha}) == len(alpha)  # one message per channel, not per invoice


def test_send_writes_one_file_per_message_and_a_second_send_writes_nothing(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-12-01")
    messages = dunflow.counts()["outbox"]
    outbox = dunflow.project / "outbox"
    assert f"delivered {messages} message(s)" in dunflow("send").stdout
    first = files_in(outbox)
    assert len(first) == messages
    assert {p.suffix for p in first} <= {".eml", ".json"}
    mtimes = {p: p.stat().st_mtime_ns for p in first}
    assert "delivered 0 message(s)" in dunflow("send").stdout
    assert {p: p.stat().st_mtime_ns for p in files_in(outbox)} == mtimes
    assert dunflow.query("SELECT DISTINCT status FROM outbox") == [("sent",)]


def test_show_invoice_as_json_explains_state_next_step_and_history(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-12-01")
    shown = dunflow.invoice("R-1")
    assert {"number", "debtor", "currency", "amount", "open_amount", "due_date", "policy", "policy_version", "state",
            "next", "actions"} <= set(shown)
    assert (shown["number"], shown["debtor"], shown["currency"]) == ("R-1", "B1", "EUR")
    assert (shown["amount"], shown["open_amount"], shown["due_date"]) == ("1190.00", "1190.00", "2026-10-01")
    assert (shown["policy"], shown["policy_version"], shown["state"]) == ("b2b-standard", 1, "first-notice")
    assert set(shown["next"]) >= {"step", "at", "why"} and shown["next"]["step"] == "final-notice"
    assert shown["actions"]
    for action in shown["actions"]:
        assert {"step", "channel", "at", "policy_version", "rule", "status"} <= set(action)
    sent = [a for a in shown["actions"] if a["kind"] == "step"]
    assert {a["step"] for a in sent} == {"first-notice"} and all(a["status"] == "queued" for a in sent)
    assert any(a["kind"] == "skipped" and a["step"] == "reminder" for a in shown["actions"])


def test_show_of_an_unknown_invoice_is_a_user_error(dunflow: Dunflow) -> None:
    result = dunflow("show", "invoice", "NOPE", code=1)
    assert "unknown invoice 'NOPE'" in result.stderr and "hint:" in result.stderr


def test_a_bad_invoices_file_is_refused_with_every_mistake_located(dunflow: Dunflow, tmp_path: Path) -> None:
    bad = write_csv(tmp_path, "bad.csv", f"""\
{HEADER}
X-1,B9,EUR,100.00,100.00,2026-09-01,2026-31-10,Gamma GmbH,business,DE,de,ap@gamma.example
X-2,NOBODY,EUR,100.00,100.00,2026-09-01,2026-10-01,,,,,
X-3,B9,EUR,-50.00,,2026-09-01,2026-10-01,Gamma GmbH,business,DE,de,ap@gamma.example
X-4,B9,EUR,10.00,10.00,2026-09-01,2026-10-01,Gamma GmbH,business,DE,de,ap@gamma.example
""")
    before = dunflow.counts()
    result = dunflow("import", "invoices", str(bad), code=1)
    err = result.stderr
    assert f"{bad}:2:7: error: column 'due_date': '2026-31-10' is not a real date" in err
    assert f"{bad}:3:2: error: unknown debtor 'NOBODY'" in err
    assert f"{bad}:4:4: error: column 'amount': '-50.00' is negative" in err
    assert err.count("  hint: ") == 3
    assert "nothing was changed" in err
    assert dunflow.counts() == before


def test_a_file_with_one_bad_row_imports_none_of_its_rows(dunflow: Dunflow, tmp_path: Path) -> None:
    bad = write_csv(tmp_path, "mixed.csv", f"{HEADER}\nY-1,B1,EUR,10.00,,2026-09-01,2026-10-01,,,,,\n"
                                           "Y-2,B1,EUR,oops,,2026-09-01,2026-10-01,,,,,\n")
    before = dunflow.counts()
    dunflow("import", "invoices", str(bad), code=1)
    assert dunflow.counts() == before  # the valid row Y-1 is not written either


def test_an_escalation_with_kind_notice_is_handed_over_without_a_traceback(project_dir: Path,
                                                                           database_url: str,
                                                                           tmp_path: Path) -> None:
    policy = project_dir / "policies" / "b2b-standard.yaml"
    policy.write_text(policy.read_text().replace("  to: collection_agency\n",
                                                 "  to: collection_agency\n  kind: notice\n"))
    cli = Dunflow(project_dir, database_url)
    cli("validate")
    cli("import", "invoices", str(write_csv(tmp_path, "invoices.csv", INVOICES)))
    for day in ("2026-12-01", "2026-12-14", "2027-01-04"):
        cli("run", "--as-of", day, "--send")
    assert cli.invoice("R-1")["state"] == "escalated"


# --- exactly once, even when the run is killed ------------------------------------------------------


def big_portfolio(tmp_path: Path, debtors: int = 1000, per_debtor: int = 3) -> Path:
    """~3000 invoices, three per debtor, a quarter of them consumers, due dates spread over four months."""
    lines = [HEADER]
    for d in range(debtors):
        kind, country, language = ("consumer", "NL", "nl") if d % 4 == 0 else ("business", "DE", "de")
        for k in range(per_debtor):
            n = d * per_debtor + k
            due = date(2026, 8, 1) + timedelta(days=(n * 7) % 120)
            lines.append(f"K-{n:05d},KD-{d:04d},EUR,{100 + n % 900}.00,,{due - timedelta(days=30)},{due},"
                         f"Debtor {d},{kind},{country},{language},d{d}@example.com")
    return write_csv(tmp_path, "portfolio.csv", "\n".join(lines) + "\n")


def set_batch_size(project: Path, size: int) -> None:
    config = project / "dunflow.yaml"
    config.write_text(re.sub(r"(?m)^batch_size: \d+$", f"batch_size: {size}", config.read_text()))
    assert f"batch_size: {size}" in config.read_text()


def kill_during_run(cli: Dunflow, as_of: str, log: Path) -> int:
    """Start `dunflow run` in its own process and SIGKILL it once the first messages are committed."""
    command = [str(Path(sys.executable).parent / "dunflow"), *cli.base, "run", "--as-of", as_of]
    env = {**os.environ, "PGAPPNAME": KILLED_APP}
    engine = create_engine(cli.database)
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 120
            seen = 0
            while process.poll() is None and time.monotonic() < deadline:
                with engine.connect() as connection:
                    seen = connection.execute(text("SELECT count(*) FROM outbox")).scalar() or 0
                if seen > 0:
                    os.kill(process.pid, signal.SIGKILL)
                    break
                time.sleep(0.01)
        finally:
            if process.poll() is None and seen == 0:
                process.kill()
            process.wait()
            engine.dispose()
    assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed: {log.read_text()}"
    wait_until_server_let_go(cli)
    return int(seen)


def wait_until_server_let_go(cli: Dunflow) -> None:
    """PostgreSQL rolls back a killed client's transaction when it notices the closed socket; wait for that,
    so the next run's advisory try-locks do not skip debtors the dead backend still holds."""
    if not cli.database.startswith("postgresql"):
        return
    deadline = time.monotonic() + 30
    while cli.query(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{KILLED_APP}'")[0][0]:
        assert time.monotonic() < deadline, "the killed run's backend did not go away"
        time.sleep(0.05)


def sent_steps(cli: Dunflow) -> Counter[tuple[str, str, str, str]]:
    return Counter(cli.query(
        "SELECT i.number, a.kind, a.step, a.channel FROM actions a JOIN cases c ON c.id = a.case_id "
        "JOIN invoices i ON i.id = c.invoice_id"))


def test_a_run_killed_mid_way_and_run_again_sends_every_step_exactly_once(project_dir: Path, database_url: str,
                                                                          tmp_path: Path) -> None:
    set_batch_size(project_dir, 100)
    portfolio = big_portfolio(tmp_path)
    crashed = Dunflow(project_dir, database_url)
    clean = Dunflow(project_dir, f"sqlite:///{tmp_path / 'clean.db'}")
    for cli in (crashed, clean):
        assert "3000 imported" in cli("import", "invoices", str(portfolio)).stdout
    clean("run", "--as-of", "2026-12-01")
    total = clean.counts()["outbox"]

    at_kill = kill_during_run(crashed, "2026-12-01", tmp_path / "killed.log")
    partial = crashed.counts()
    assert 0 < at_kill <= partial["outbox"] < total, "the kill should land mid-run"
    assert partial["runs"] == 0
    crashed("run", "--as-of", "2026-12-01")

    assert crashed.query("SELECT idempotency_key FROM actions GROUP BY idempotency_key HAVING count(*) > 1") == []
    assert crashed.query("SELECT key FROM outbox GROUP BY key HAVING count(*) > 1") == []
    per_step = crashed.query("SELECT case_id, step, channel, count(*) FROM actions WHERE kind IN ('step', "
                             "'escalation') GROUP BY case_id, step, channel HAVING count(*) > 1")
    assert per_step == []
    revisions: dict[tuple[int, str], set[str]] = {}
    for case_id, step, key in crashed.query("SELECT case_id, step, idempotency_key FROM actions "
                                            "WHERE kind IN ('step', 'escalation')"):
        revisions.setdefault((case_id, step), set()).add(key.split(":")[2])
    assert all(len(found) == 1 for found in revisions.values())  # each step came from one decision
    assert sent_steps(crashed) == sent_steps(clean)
    assert Counter(map(repr, crashed.outbox())) == Counter(map(repr, clean.outbox()))
    assert crashed.counts()["outbox"] == total


HELD_WORKER = Path(__file__).with_name("held_worker.py")


def run_two_held_workers(cli: Dunflow, as_of: str, folder: Path) -> list[dict[str, Any]]:
    """Two `dunflow run` processes that both read the due set before either starts its first batch.

    Each worker stops once it knows what is due (see held_worker.py); only when both have got that far
    are they let go together, so their batches overlap instead of the second finding the work done.
    Returns each worker's JSON summary.
    """
    go = folder / "go"
    ready = [folder / f"ready{n}" for n in (1, 2)]
    logs = [folder / f"worker{n}.log" for n in (1, 2)]
    outputs = [folder / f"worker{n}.json" for n in (1, 2)]
    workers = [subprocess.Popen([sys.executable, str(HELD_WORKER), str(flag), str(go), *cli.base, "run",
                                 "--as-of", as_of, "--format", "json"], stdout=out.open("wb"), stderr=log.open("wb"))
               for flag, out, log in zip(ready, outputs, logs)]
    try:
        deadline = time.monotonic() + 120
        while not all(flag.exists() for flag in ready):
            assert all(w.poll() is None for w in workers), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, "the workers never read their due sets"
            time.sleep(0.01)
        go.touch()
        assert [w.wait(timeout=300) for w in workers] == [0, 0], [log.read_text() for log in logs]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return [json.loads(out.read_text()) for out in outputs]


def test_two_workers_running_at_once_send_every_step_exactly_once(project_dir: Path, database_url: str,
                                                                   tmp_path: Path) -> None:
    set_batch_size(project_dir, 20)
    portfolio = big_portfolio(tmp_path, debtors=200)
    shared = Dunflow(project_dir, database_url)
    clean = Dunflow(project_dir, f"sqlite:///{tmp_path / 'clean.db'}")
    for cli in (shared, clean):
        cli("import", "invoices", str(portfolio))
    alone = json.loads(clean("run", "--as-of", "2026-12-01", "--format", "json").stdout)
    assert alone["advanced"] > 100

    first, second = run_two_held_workers(shared, "2026-12-01", tmp_path)

    # Both worked on the same due set at the same time: neither found the other's work already done...
    assert first["due"] == second["due"] == alone["due"]
    # ...and between them they advanced every due case once: one took the rest, or the other waited.
    assert first["advanced"] + second["advanced"] == alone["advanced"]
    assert first["messages"] + second["messages"] == alone["messages"]
    assert shared.query("SELECT key FROM outbox GROUP BY key HAVING count(*) > 1") == []
    assert shared.query("SELECT idempotency_key FROM actions GROUP BY idempotency_key HAVING count(*) > 1") == []
    assert sent_steps(shared) == sent_steps(clean)
    assert Counter(map(repr, shared.outbox())) == Counter(map(repr, clean.outbox()))
    assert shared.query("SELECT i.number, c.state, c.revision FROM cases c JOIN invoices i ON i.id = c.invoice_id "
                        "ORDER BY i.number") == clean.query(
        "SELECT i.number, c.state, c.revision FROM cases c JOIN invoices i ON i.id = c.invoice_id ORDER BY i.number")
