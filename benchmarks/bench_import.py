"""Import benchmark: `dunflow import invoices` beside a validated-Python floor and the databases' bulk loaders.

Generates a CSV of `--rows` invoices (default 1,000,000) with debtor columns (debtor_name,
debtor_type, ... : `--per-debtor` invoices per debtor, default 10; 70 % business DE, 5 % of them
key accounts, 25 % consumers NL; EUR, some GBP and CHF), then, on a fresh database each time
(dunflow's migrations applied, the project's policies registered, no debtors or invoices yet):

* dunflow: `ledger.invoices.import_invoices` in one transaction with `register_policies`, exactly as
  `dunflow import invoices FILE` does (in-process, one worker process per run; peak RSS measured);
* floor (+cases): `floor.py import`: Python csv + validation + debtor lookup + executemany into
  debtors, invoices and cases, one transaction (on PostgreSQL also with COPY instead of executemany);
* floor (invoices only): the same without the cases;
* bulk loader: `sqlite3 .import --csv` (the sqlite3 command-line shell) / psql `\\copy ... csv`
  into a bare staging table of text columns: no validation, no debtors, no cases.
  Skipped, and said so, when the sqlite3 shell or psql is not installed.

    python benchmarks/bench_import.py --rows 200000 --backend sqlite
    python benchmarks/bench_import.py --rows 20000 --repeat 1 --backend both
"""
from __future__ import annotations

import argparse
import csv
import json
import pstats
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from _common import (HERE, PYTHON, drop_schema, fresh_schema, libpq_url, machine, measure, publish, median, pg_url,
                     sqlite_url, table)
from bench_daily_run import _new_project, _register

HEADER = ("number", "debtor_code", "currency", "amount", "open_amount", "issue_date", "due_date", "debtor_name",
          "debtor_type", "debtor_country", "debtor_language", "debtor_email", "debtor_phone", "debtor_address",
          "debtor_postal_code", "debtor_city", "debtor_tags")


def generate_csv(path: Path, rows: int, per_debtor: int) -> None:
    start = date(2026, 9, 1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for k in range(rows):
            d = k // per_debtor + 1
            kind = d % 20
            if kind < 5:
                debtor = (f"Klant {d}", "consumer", "NL", "nl", f"klant{d}@example.nl", "+31 20 555 0101",
                          f"Keizersgracht {d % 300 + 1}", "1015 CJ", "Amsterdam", "webshop")
            else:
                tags = "key-account;logistics" if kind == 19 else "manufacturing"
                debtor = (f"Kunde {d} GmbH", "business", "DE", "de", f"buchhaltung@kunde{d}.example.de",
                          "+49 711 2345670", f"Industriestraße {d % 200 + 1}", "70565", "Stuttgart", tags)
            currency = "GBP" if k % 50 == 0 else "CHF" if k % 50 == 1 else "EUR"
            cents = 10_000 + (k * 7919) % 1_500_000
            amount = f"{cents // 100}.{cents % 100:02d}"
            open_amount = amount if k % 5 else f"{cents // 200}.{(cents // 2) % 100:02d}"
            issue = start + timedelta(days=k % 90)
            due = issue + timedelta(days=14 if kind < 5 else 30)
            writer.writerow((f"INV-{k + 1:08d}", f"D-{d:07d}", currency, amount, open_amount, issue.isoformat(),
                             due.isoformat(), *debtor))


def fresh_database(backend: str, project: Path, workdir: Path, template: Path | None, name: str) -> str:
    """An empty, migrated database with the project's policies registered."""
    if backend == "sqlite":
        dest = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{dest}{suffix}").unlink(missing_ok=True)
        assert template is not None
        shutil.copyfile(template, dest)
        return sqlite_url(dest)
    fresh_schema(name)
    url = pg_url(name)
    _register(project, url)
    return url


def drop_database(backend: str, url: str) -> None:
    if backend == "sqlite":
        path = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        drop_schema(url.rsplit("%3D", 1)[1])


def _counts(backend: str, url: str) -> tuple[int, int, int]:
    query = "SELECT (SELECT count(*) FROM debtors), (SELECT count(*) FROM invoices), (SELECT count(*) FROM cases)"
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(url[len("sqlite:///"):])
        row = con.execute(query).fetchone()
        con.close()
    else:
        import psycopg

        with psycopg.connect(libpq_url(url)) as con:
            row = con.execute(query).fetchone()
    return row


STAGING = "CREATE TABLE raw_invoices (" + ", ".join(f"{c} TEXT" for c in HEADER) + ")"


def bulk_load(backend: str, csv_path: Path, workdir: Path) -> dict[str, Any] | None:
    """sqlite3 `.import` / psql `\\copy` into a bare staging table; None when the tool is missing."""
    if backend == "sqlite":
        tool = shutil.which("sqlite3")
        if tool is None:
            return None
        db = workdir / "bulk.db"
        db.unlink(missing_ok=True)
        subprocess.run([tool, str(db), STAGING], check=True)
        cmd = [tool, str(db), f".import --csv --skip 1 {csv_path} raw_invoices"]
    else:
        tool = shutil.which("psql")
        if tool is None:
            return None
        fresh_schema("bench_bulk")
        conninfo = libpq_url(pg_url("bench_bulk"))
        subprocess.run([tool, "-q", "-v", "ON_ERROR_STOP=1", conninfo, "-c", STAGING], check=True)
        cmd = [tool, "-q", "-v", "ON_ERROR_STOP=1", conninfo, "-c",
               f"\\copy raw_invoices FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - started
    if backend == "sqlite":
        import sqlite3

        con = sqlite3.connect(str(workdir / "bulk.db"))
        loaded = con.execute("SELECT count(*) FROM raw_invoices").fetchone()[0]
        con.close()
        (workdir / "bulk.db").unlink()
    else:
        import psycopg

        with psycopg.connect(libpq_url(pg_url("bench_bulk"))) as con:
            loaded = con.execute("SELECT count(*) FROM raw_invoices").fetchone()[0]
        drop_schema("bench_bulk")
    return {"seconds": seconds, "rows": loaded}


def variants(backend: str) -> list[tuple[str, list[str]]]:
    """(label, extra floor.py args) of the floor variants measured on this backend."""
    found = [("floor (+cases)", []), ("floor (invoices only)", ["--no-cases"])]
    if backend == "postgres":
        found.append(("floor COPY (+cases)", ["--copy"]))
    return found


def bench(backend: str, args: argparse.Namespace, project: Path, csv_path: Path) -> dict[str, Any]:
    workdir: Path = args.workdir
    template = None
    if backend == "sqlite":
        template = workdir / "empty.db"
        template.unlink(missing_ok=True)
        _register(project, sqlite_url(template))
    runs: dict[str, list[dict[str, Any]]] = {"dunflow": []}
    for label, _ in variants(backend):
        runs[label] = []
    runs["bulk"] = []
    for attempt in range(args.repeat):
        order = ["dunflow", *[label for label, _ in variants(backend)]]
        if attempt % 2:
            order.reverse()
        for label in order:
            url = fresh_database(backend, project, workdir, template, f"bench_import_{label.split()[0]}")
            if label == "dunflow":
                cmd = [PYTHON, str(HERE / "_worker.py"), "import", "--project", str(project), "--url", url,
                       "--csv", str(csv_path)]
            else:
                extra = dict(variants(backend))[label]
                cmd = [PYTHON, str(HERE / "floor.py"), "import", url, str(csv_path), *extra]
            result = measure(cmd)
            result["debtors"], result["invoices_in_db"], result["cases_in_db"] = _counts(backend, url)
            drop_database(backend, url)
            runs[label].append(result)
            print(f"[import {backend} {args.rows:,}] {label} #{attempt + 1}: {result['seconds']:.2f} s, "
                  f"peak RSS {result['maxrss_mb']:.0f} MB, debtors {result['debtors']}, invoices "
                  f"{result['invoices_in_db']}, cases {result['cases_in_db']}", file=sys.stderr)
        bulk = bulk_load(backend, csv_path, workdir)
        if bulk is not None:
            runs["bulk"].append(bulk)
            print(f"[import {backend} {args.rows:,}] bulk loader #{attempt + 1}: {bulk['seconds']:.2f} s, "
                  f"{bulk['rows']} rows", file=sys.stderr)
    if template is not None:
        template.unlink(missing_ok=True)
    summary: dict[str, Any] = {"backend": backend, "rows": args.rows, "runs": runs, "median": {}, "rss": {}}
    for label, results in runs.items():
        if results:
            summary["median"][label] = median([r["seconds"] for r in results])
            if "maxrss_mb" in results[0]:
                summary["rss"][label] = max(r["maxrss_mb"] for r in results)
    return summary


def report(results: list[dict[str, Any]], args: argparse.Namespace, csv_path: Path) -> str:
    size_mb = csv_path.stat().st_size / 1e6
    lines = [f"Import of {args.rows:,} invoices ({size_mb:.0f} MB CSV, {args.per_debtor} invoices per debtor, "
             f"debtors created from the debtor_* columns), {args.repeat} run(s) each, medians", ""]
    rows = []
    for r in results:
        dunflow = r["median"]["dunflow"]
        for label, seconds in r["median"].items():
            name = {"bulk": "sqlite3 .import (staging table)" if r["backend"] == "sqlite"
                    else "psql \\copy (staging table)"}.get(label, label)
            rss = r["rss"].get(label)
            rows.append((r["backend"], name, f"{seconds:.2f}", f"{args.rows / seconds:,.0f}",
                         f"{rss:.0f}" if rss else "–", "–" if label == "dunflow" else f"**{dunflow / seconds:.2f}**"))
        if "bulk" not in r["median"]:
            rows.append((r["backend"], "bulk loader", "skipped: the " +
                         ("sqlite3 shell" if r["backend"] == "sqlite" else "psql client") + " is not installed",
                         "", "", ""))
    lines.append(table(("backend", "what", "median s", "rows/s", "peak RSS MB", "dunflow ÷ this"), rows))
    lines += ["", "Runs (s): " + "; ".join(
        f"{r['backend']} {label}: {[round(x['seconds'], 2) for x in runs]}"
        for r in results for label, runs in r["runs"].items() if runs)]
    lines += ["", "Target 3 (dunflow ÷ validated-Python floor with cases ≤ 2):"]
    for r in results:
        ratio = r["median"]["dunflow"] / r["median"]["floor (+cases)"]
        lines.append(f"- {r['backend']}, {args.rows:,} rows: {ratio:.2f} ({'met' if ratio <= 2 else 'MISSED'})"
                     + ("" if args.rows == 1_000_000 else f" (measured at {args.rows:,} rows, not 1,000,000)"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-debtor", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dunflow-bench"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", action="store_true", help="only profile one dunflow import (first backend)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    project = _new_project(args.workdir)
    csv_path = args.workdir / f"invoices-{args.rows}.csv"
    if not csv_path.exists():
        started = time.perf_counter()
        generate_csv(csv_path, args.rows, args.per_debtor)
        print(f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.profile:
        backend = backends[0]
        template = None
        if backend == "sqlite":
            template = args.workdir / "empty.db"
            template.unlink(missing_ok=True)
            _register(project, sqlite_url(template))
        url = fresh_database(backend, project, args.workdir, template, "bench_import_profile")
        out = args.workdir / f"import-{backend}-{args.rows}.prof"
        result = measure([PYTHON, str(HERE / "_worker.py"), "import", "--project", str(project), "--url", url,
                          "--csv", str(csv_path), "--profile", str(out)])
        drop_database(backend, url)
        if template is not None:
            template.unlink(missing_ok=True)
        print(f"profiled import: {result['seconds']:.2f} s for {args.rows} rows (cProfile overhead included)")
        stats = pstats.Stats(str(out))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        return
    print(json.dumps(machine()), file=sys.stderr)
    results = [bench(backend, args, project, csv_path) for backend in backends]
    publish(results, report(results, args, csv_path), args.json)


if __name__ == "__main__":
    main()
