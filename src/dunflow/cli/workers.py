"""`dunflow run --workers N`: N processes on one PostgreSQL database share one day's due set.

The parent is worker 0 and starts workers 1..N-1 as `dunflow run --worker k/N` child processes (the
database URL goes through the environment, never the command line). Every worker reads the whole due set and
starts k/N of the way into its batches; the debtors' advisory locks keep two workers off the same debtor (a
grouped notice is never split), and each case's revision and idempotency keys keep every step exactly once,
whatever the workers do or if one of them dies. The parent waits until every worker has started up before
any of them reads the due set (a worker's start-up takes longer than many batches), then adds up the workers' summaries and writes the one
run log entry.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import IO, Any

from dunflow.errors import DunflowError

CHILD = "from dunflow.cli.main import main; main()"
READY_SECONDS = 120.0


def parse_worker(text: str) -> tuple[int, int]:
    """`k/n` → (k, n), 0 ≤ k < n."""
    try:
        worker, workers = (int(part) for part in text.split("/"))
    except ValueError:
        raise DunflowError(f"--worker {text!r} is not of the form k/n", "e.g. --worker 1/4") from None
    if not 0 <= worker < workers:
        raise DunflowError(f"--worker {text}: k must be at least 0 and below n", "e.g. --worker 1/4")
    return worker, workers


def require_shared_database(dialect: str, workers: int, dry_run: bool) -> None:
    if workers > 1 and dialect != "postgresql":
        raise DunflowError(f"--workers {workers} needs PostgreSQL; this project's database is {dialect}",
                           "on SQLite one writer works at a time: run without --workers")
    if workers > 1 and dry_run:
        raise DunflowError("--workers cannot be combined with --dry-run", "a dry run needs no workers")


def start_workers(project: Path, database_url: str, as_of: date, workers: int, force: bool,
                  folder: Path) -> list[tuple[subprocess.Popen[bytes], IO[bytes], Path]]:
    """Workers 1..workers-1, each writing its JSON summary to a file in `folder`."""
    started: list[tuple[subprocess.Popen[bytes], IO[bytes], Path]] = []
    env = {**os.environ, "DUNFLOW_DATABASE_URL": database_url}
    for k in range(1, workers):
        out = folder / f"worker-{k}.json"
        err = (folder / f"worker-{k}.log").open("wb")
        command = [sys.executable, "-c", CHILD, "--project", str(project), "--quiet", "run", "--as-of", str(as_of),
                   "--worker", f"{k}/{workers}", "--ready", str(folder / f"ready-{k}"), "--format", "json",
                   *(["--force"] if force else [])]
        with out.open("wb") as stdout:
            process = subprocess.Popen(command, stdout=stdout, stderr=err, env=env)
        started.append((process, err, out))
    return started


def wait_until_ready(started: list[tuple[subprocess.Popen[bytes], IO[bytes], Path]], folder: Path,
                     timeout: float = READY_SECONDS) -> None:
    """Until every worker has started up (its project, policies and templates loaded) and is about to read the
    due set, so that they all begin together; a worker that ended or is slower than `timeout` is not waited for
    (the others cover its share)."""
    deadline = time.monotonic() + timeout
    for k, (process, _, _) in enumerate(started, start=1):
        while not (folder / f"ready-{k}").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)


def signal_ready(path: str | None) -> None:
    if path:
        Path(path).touch()


def wait_for(started: list[tuple[subprocess.Popen[bytes], IO[bytes], Path]]) -> None:
    for process, err, _ in started:
        process.wait()
        err.close()


def collect(started: list[tuple[subprocess.Popen[bytes], IO[bytes], Path]]) -> list[dict[str, Any]]:
    """Each worker's summary once it ended; a user error if one failed (the others' work stands)."""
    summaries: list[dict[str, Any]] = []
    problems: list[str] = []
    for process, err, out in started:
        code = process.wait()
        err.close()
        text = out.read_text(encoding="utf-8").strip()
        if text:
            summaries.append(json.loads(text))
        if code != 0 and not text:
            log = Path(err.name).read_text(encoding="utf-8", errors="replace").strip().splitlines()
            problems.append(f"exit {code}: {log[-1] if log else 'no output'}")
    if problems:
        raise DunflowError(f"{len(problems)} worker(s) failed: " + "; ".join(problems),
                           "run again: what the failed workers left undone is still due, nothing is done twice")
    return summaries


def merged(own: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' summaries as one: counts added up, `due` as the largest due set any worker read."""
    total = dict(own)
    steps: Counter[str] = Counter(own["steps"])
    failed = {f["invoice"]: f for f in own["failed"]}
    for summary in others:
        for key in ("advanced", "messages", "deferred", "waiting"):
            total[key] += summary[key]
        total["due"] = max(total["due"], summary["due"])
        steps.update(summary["steps"])
        failed.update((f["invoice"], f) for f in summary["failed"])
    total["steps"], total["failed"] = dict(steps), list(failed.values())
    total["workers"] = [{k: s[k] for k in ("advanced", "messages")} for s in (own, *others)]
    return total
