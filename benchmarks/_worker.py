"""The measured dunflow side of the benchmarks, one process per measurement (prints one JSON line).

    python _worker.py daily  --project DIR --url URL --as-of 2026-12-01 [--profile OUT.prof]
    python _worker.py import --project DIR --url URL --csv FILE [--profile OUT.prof]

`daily` does what `dunflow run --as-of D` does: open the workspace (engine + migrations check,
templates, policies), register the policies, then `run_due(...)`; only `run_due` is timed.
`import` does what `dunflow import invoices FILE` does: in one transaction, register the policies
and `intake.import_invoices(...)`; the transaction is timed (the policy files are loaded and
validated before, once, as the CLI does on its first use of `ws.policies`).
"""
from __future__ import annotations

import argparse
import cProfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

from _common import emit


def _timed(call: Callable[[], Any], profile: str | None) -> tuple[Any, float]:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = call()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    if profiler:
        profiler.dump_stats(profile)
    return result, seconds


def daily(project: Path, url: str, as_of: date, profile: str | None) -> dict[str, Any]:
    from dunflow.bootstrap import Workspace
    from dunflow.engine.run import run_due

    ws = Workspace.open(project, url)
    ws.register_policies()
    report, seconds = _timed(lambda: run_due(ws.store, ws.templates, ws.project.creditor, as_of, ws.timers,
                                             batch_size=ws.project.batch_size), profile)
    return {"seconds": seconds, "due": report.due, "advanced": report.advanced, "messages": report.messages,
            "deferred": report.deferred, "steps": dict(report.steps)}


def import_invoices(project: Path, url: str, csv_path: Path, profile: str | None) -> dict[str, Any]:
    from dunflow.bootstrap import Workspace
    from dunflow.ledger.invoices import import_invoices as run_import

    ws = Workspace.open(project, url)
    ws.engine, ws.policies  # noqa: B018 - migrations checked, policy files loaded and validated, as the CLI

    def transaction() -> Any:
        with ws.store.writing() as uow:
            versions = uow.versions.register(ws.policies, uow.clock.now())
            return run_import(uow, csv_path, ws.policies, versions, ws.clock.today())

    report, seconds = _timed(transaction, profile)
    return {"seconds": seconds, "invoices": report.created, "unchanged": report.unchanged,
            "debtors_created": report.debtors_created}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["daily", "import"])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--profile")
    args = parser.parse_args()
    if args.mode == "daily":
        emit(daily(args.project, args.url, args.as_of, args.profile))
    else:
        emit(import_invoices(args.project, args.url, args.csv, args.profile))


if __name__ == "__main__":
    main()
