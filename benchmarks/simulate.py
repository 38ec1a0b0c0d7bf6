"""Simulation benchmark: `dunflow simulate` over a year beside the daily runs it stands for.

A fresh project (`dunflow init --no-sample-data`, SQLite) gets N open invoices (default 100,000) of N/2
business debtors with e-mail (policy b2b-standard), issued evenly over the year before and during the
simulated period, due 30 days later, imported with `dunflow import`. Then, each in its own process:

* `simulate`: `dunflow simulate --from 2026-12-01 --to 2027-11-30 --payments none --format json`,
  the whole command (copy of the database included);
* `daily`: on a copy of the same database, what `dunflow run --as-of D --send` does, for each of the 365
  days (the runner, then delivery into the outbox folder), in one process: the daily runs' own cost;
* `simulate (default model)`: the same simulation with the shipped payment model (payments booked).

Reported: seconds, peak RSS, and simulate / daily. The target (shared/BENCHMARKS.md): 100,000 invoices
over 365 days in at most 60 s and 1 GB on this 2-core machine, aim 30 s.

    python benchmarks/simulate.py                 # 100,000 invoices
    python benchmarks/simulate.py --size 10000    # a quick look
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from _common import HERE, PYTHON, measure, publish, table

START, END = date(2026, 12, 1), date(2027, 11, 30)


def build(workdir: Path, size: int) -> Path:
    """The project with its portfolio imported; returns the project folder."""
    from click.testing import CliRunner

    from dunflow.cli.main import main

    project = workdir / "project"
    for args in (["init", "--no-sample-data", str(project)],):
        assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    first = START - timedelta(days=365)
    span = (END - first).days
    with (project / "invoices.csv").open("w", encoding="utf-8") as out:
        out.write("number,debtor_code,currency,amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,"
                  "debtor_email\n")
        for n in range(size):
            issued = first + timedelta(days=n * span // size)
            debtor = n % max(1, size // 2)
            out.write(f"B-{n:07d},D-{debtor:07d},EUR,{100 + n % 900}.00,{issued},{issued + timedelta(days=30)},"
                      f"Debtor {debtor} GmbH,business,DE,ap{debtor}@example.com\n")
    result = CliRunner().invoke(main, ["--project", str(project), "import", "invoices",
                                       str(project / "invoices.csv")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return project


def worker(kind: str, project: Path, model: str) -> None:
    """One measurement in this process; prints its JSON line."""
    started = time.perf_counter()
    if kind == "simulate":
        from click.testing import CliRunner

        from dunflow.cli.main import main

        result = CliRunner().invoke(main, ["--project", str(project), "simulate", "--from", str(START), "--to",
                                           str(END), "--payments", model, "--format", "json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        totals = json.loads(result.stdout)["totals"]
        figures = {"messages": totals["messages"], "paid": totals["paid"]}
    else:
        from dunflow.bootstrap import Workspace
        from dunflow.delivery.dispatch import send_pending
        from dunflow.engine.run import run_due

        ws = Workspace.open(project)
        day, messages = START, 0
        while day <= END:
            run_due(ws.store, ws.templates, ws.project.creditor, day, ws.timers, batch_size=ws.project.batch_size)
            messages += send_pending(ws.store, ws.channel, ws.refresher, on=day).sent
            day += timedelta(days=1)
        figures = {"messages": messages, "paid": 0}
    print(json.dumps({"kind": kind, "seconds": time.perf_counter() - started, **figures}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "PROJECT", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), args.worker[2])
        return
    with tempfile.TemporaryDirectory(prefix="dunflow-bench-sim-") as folder:
        base = build(Path(folder), args.size)
        me = str(Path(__file__).resolve())
        runs = []
        for kind, model in (("simulate", "none"), ("daily", "none"), ("simulate", "default")):
            project = Path(folder) / f"copy-{len(runs)}"
            shutil.copytree(base, project)
            runs.append({"model": model, **measure([PYTHON, me, "--worker", kind, str(project), model])})
        sim, daily = runs[0], runs[1]
        rows = [[r["kind"], r["model"], f"{r['seconds']:.1f}", f"{r['maxrss_mb']:.0f}", r["messages"], r["paid"]]
                for r in runs]
        text = (f"{args.size:,} invoices, {START} .. {END} (SQLite)\n\n"
                + table(["measured", "payments", "s", "peak RSS MB", "messages", "paid"], rows)
                + f"\n\nsimulate / daily runs = {sim['seconds'] / daily['seconds']:.2f}"
                + f"; same messages: {sim['messages'] == daily['messages']}")
        publish(runs, text, args.json)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
