"""Daily run benchmark: dunflow's `run_due` beside the hand-written SQL floor, on identical databases.

For each backend and portfolio size N (open invoices), a base database is built once in a fresh
dunflow project (`init_project(dir, sample_data=False)`, dunflow's migrations, the project's
policies registered), loaded by bulk SQL straight into debtors / invoices / cases:

* `--due` cases (default 50,000) are due on the run date (2026-12-01, a Tuesday): invoices due
  7 days before, which got their courtesy note on 2026-11-23 (state `courtesy`), so today the
  `reminder` step is due: one action, one e-mail notice each. They are spread evenly over the
  case ids (every N/due-th case), so at 1M they lie on more pages than at 100k.
* the other N - due cases are not due (state `new`, due dates 4..60 days ahead, `next_action_at`
  the courtesy date the policy plans).
* every debtor (business, DE, with e-mail → policy b2b-standard) has `--per-debtor` invoices
  (default 2) and at most one due case, so grouping never merges notices and both sides write
  exactly one action and one outbox row per due case, at every N.

Each measurement runs on a fresh copy of the base (SQLite: a file copy; PostgreSQL: a schema
created by dunflow's migrations, filled by INSERT ... SELECT from the base, then VACUUM ANALYZE)
in its own process; peak RSS is that process's `ru_maxrss` (read through RUSAGE_CHILDREN by a
wrapper). dunflow and the floor alternate, `--repeat` times each; medians are reported.

    python benchmarks/bench_daily_run.py                                  # both backends, 100k and 1M
    python benchmarks/bench_daily_run.py --backend sqlite --sizes 2000,20000 --due 1000 --repeat 1
    python benchmarks/bench_daily_run.py --backend sqlite --sizes 20000 --due 5000 --profile
"""
from __future__ import annotations

import argparse
import json
import pstats
import shutil
import sqlite3
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterator

from _common import (HERE, PYTHON, drop_schema, fresh_schema, libpq_url, machine, measure, publish, median, pg_admin, pg_url,
                     sqlite_path, sqlite_url, table)

AS_OF = date(2026, 12, 1)
POLICY = "b2b-standard"
TABLES = ("policy_versions", "debtors", "invoices", "cases")


# --- the portfolio ------------------------------------------------------------------------------

class Portfolio:
    """Row generators for N open invoices of which `due` are due on AS_OF (see the module doc)."""

    def __init__(self, size: int, due: int, per_debtor: int, version_id: int, project: Path) -> None:
        from dunflow.domain.schedule import planned_date
        from dunflow.policy.versions import business_days
        from dunflow.policy.validate import load_policies
        from dunflow.rendering.templates import TemplateStore

        if due > size:
            raise SystemExit(f"--due {due} is larger than the portfolio {size}")
        self.size, self.due, self.per_debtor, self.version_id = size, due, per_debtor, version_id
        self.stride = size // due
        if self.stride < per_debtor:
            print(f"note: N/due = {self.stride} < --per-debtor {per_debtor}: some debtors have several due cases, "
                  "dunflow groups their notices", file=sys.stderr)
        policies = load_policies(project / "policies", TemplateStore(project / "templates"), project)
        policy = policies.by_name(POLICY).policy
        calendar = business_days(policy.settings.calendar)
        self.due_date = AS_OF - timedelta(days=7)
        self.courtesy_on = planned_date(policy, 0, self.due_date, None, calendar)
        reminder_on = planned_date(policy, 1, self.due_date, self.courtesy_on, calendar)
        assert self.courtesy_on < AS_OF == reminder_on, (self.courtesy_on, reminder_on)
        # not-due invoices: due 4..60 days ahead; their next look is the planned courtesy note
        self.ahead = [(AS_OF + timedelta(days=d), planned_date(policy, 0, AS_OF + timedelta(days=d), None, calendar))
                      for d in range(4, 61)]
        assert all(look > AS_OF for _, look in self.ahead)

    @property
    def debtor_count(self) -> int:
        return -(-self.size // self.per_debtor)

    def debtors(self) -> Iterator[tuple]:
        for d in range(1, self.debtor_count + 1):
            yield (d, f"D{d:08d}", f"Schuldner {d} GmbH", "business", "DE", "de", f"ap{d}@debtor{d}.example", "",
                   f"Musterstraße {d % 200 + 1}", "70565", "Stuttgart", "", "")

    def invoices_and_cases(self, iso: bool) -> Iterator[tuple[tuple, tuple]]:
        fmt = (lambda d: d.isoformat()) if iso else (lambda d: d)
        due_on, courtesy_on, as_of = fmt(self.due_date), fmt(self.courtesy_on), fmt(AS_OF)
        due_issue = fmt(self.due_date - timedelta(days=30))
        ahead = [(fmt(due), fmt(due - timedelta(days=30)), fmt(look)) for due, look in self.ahead]
        for k in range(self.size):
            ident, debtor = k + 1, k // self.per_debtor + 1
            amount = f"{100 + k % 9000}.{k % 100:02d}"
            if k % self.stride == 0 and k // self.stride < self.due:
                invoice = (ident, f"INV{ident:09d}", debtor, "EUR", amount, amount, due_issue, due_on)
                case = (ident, ident, debtor, self.version_id, "courtesy", None, courtesy_on, as_of, 1)
            else:
                due, issue, look = ahead[k % len(ahead)]
                invoice = (ident, f"INV{ident:09d}", debtor, "EUR", amount, amount, issue, due)
                case = (ident, ident, debtor, self.version_id, "new", None, None, look, 0)
            yield invoice, case


DEBTOR_COLS = "id, code, name, type, country, language, email, phone, address, postal_code, city, tags, credit_rating"
INVOICE_COLS = "id, number, debtor_id, currency, amount, open_amount, issue_date, due_date"
CASE_COLS = "id, invoice_id, debtor_id, policy_version_id, state, resume_state, last_step_on, next_action_at, revision"


def _new_project(workdir: Path) -> Path:
    from dunflow.scaffold import init_project

    project = workdir / "project"
    if not (project / "dunflow.yaml").exists():
        init_project(project, sample_data=False)
    return project


def _register(project: Path, url: str) -> int:
    """Migrate the database and register the project's policies (Workspace); the version id of POLICY."""
    from dunflow.bootstrap import Workspace

    ws = Workspace.open(project, url)
    versions = ws.register_policies()
    ws.engine.dispose()
    return versions[POLICY]


def build_sqlite(project: Path, path: Path, size: int, due: int, per_debtor: int) -> None:
    path.unlink(missing_ok=True)
    version = _register(project, sqlite_url(path))
    portfolio = Portfolio(size, due, per_debtor, version, project)
    con = sqlite3.connect(str(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    con.executemany(f"INSERT INTO debtors ({DEBTOR_COLS}) VALUES ({', '.join('?' * 13)})", portfolio.debtors())
    cases: list[tuple] = []

    def invoices() -> Iterator[tuple]:
        for invoice, case in portfolio.invoices_and_cases(iso=True):
            cases.append(case)
            yield invoice

    con.executemany(f"INSERT INTO invoices ({INVOICE_COLS}) VALUES ({', '.join('?' * 8)})", invoices())
    con.executemany(f"INSERT INTO cases ({CASE_COLS}) VALUES ({', '.join('?' * 9)})", cases)
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode=WAL")  # as dunflow leaves it
    con.close()


def build_postgres(project: Path, schema: str, size: int, due: int, per_debtor: int) -> None:
    import psycopg

    fresh_schema(schema)
    version = _register(project, pg_url(schema))
    portfolio = Portfolio(size, due, per_debtor, version, project)
    with psycopg.connect(libpq_url(pg_url(schema))) as con, con.cursor() as cur:
        with cur.copy(f"COPY debtors ({DEBTOR_COLS}) FROM STDIN") as stream:
            for row in portfolio.debtors():
                stream.write_row(row)
        cases: list[tuple] = []
        with cur.copy(f"COPY invoices ({INVOICE_COLS}) FROM STDIN") as stream:
            for invoice, case in portfolio.invoices_and_cases(iso=False):
                stream.write_row(invoice)
                cases.append(case)
        with cur.copy(f"COPY cases ({CASE_COLS}) FROM STDIN") as stream:
            for row in cases:
                stream.write_row(row)
        for name in ("debtors", "invoices", "cases"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")


def copy_sqlite(base: Path, dest: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, dest)
    return sqlite_url(dest)


def copy_postgres(project: Path, base: str, dest: str) -> str:
    """A schema made by dunflow's migrations, filled from the base, vacuumed and analyzed."""
    fresh_schema(dest)
    _register(project, pg_url(dest))
    with pg_admin() as con:
        for name in ("actions", "outbox", "cases", "invoices", "debtors", "policy_versions"):
            con.execute(f'DELETE FROM "{dest}".{name}')
        for name in TABLES:
            con.execute(f'INSERT INTO "{dest}".{name} SELECT * FROM "{base}".{name}')
            con.execute(f"SELECT setval(pg_get_serial_sequence('\"{dest}\".{name}', 'id'), "
                        f'(SELECT max(id) FROM "{dest}".{name}))')
        for name in (*TABLES, "actions", "outbox", "runs"):
            con.execute(f'VACUUM ANALYZE "{dest}".{name}')
    return pg_url(dest)


def drop_copy(backend: str, url: str) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path(url)}{suffix}").unlink(missing_ok=True)
    else:
        drop_schema(url.rsplit("%3D", 1)[1])


def _count(backend: str, url: str) -> dict[str, int]:
    query = ("SELECT (SELECT count(*) FROM actions), (SELECT count(*) FROM outbox), "
             "(SELECT avg(length(body)) FROM outbox), (SELECT count(*) FROM cases WHERE next_action_at <= '2026-12-01')")
    if backend == "sqlite":
        con = sqlite3.connect(str(sqlite_path(url)))
        row = con.execute(query).fetchone()
        con.close()
    else:
        import psycopg

        with psycopg.connect(libpq_url(url)) as con:
            row = con.execute(query).fetchone()
    return {"actions": row[0], "outbox": row[1], "avg_body": float(row[2] or 0), "still_due": row[3]}


# --- running ------------------------------------------------------------------------------------

def run_one(kind: str, backend: str, project: Path, url: str, profile: str | None = None) -> dict[str, Any]:
    if kind == "dunflow":
        cmd = [PYTHON, str(HERE / "_worker.py"), "daily", "--project", str(project), "--url", url,
               "--as-of", AS_OF.isoformat()] + (["--profile", profile] if profile else [])
    else:
        cmd = [PYTHON, str(HERE / "floor.py"), "daily", url, "--as-of", AS_OF.isoformat()]
    result = measure(cmd)
    result.update(_count(backend, url))
    return result


def bench(backend: str, size: int, args: argparse.Namespace, project: Path) -> dict[str, Any]:
    workdir: Path = args.workdir
    started = time.perf_counter()
    if backend == "sqlite":
        base_path = workdir / f"base-{size}.db"
        build_sqlite(project, base_path, size, args.due, args.per_debtor)
        base = str(base_path)
    else:
        base = f"bench_base_{size}"
        build_postgres(project, base, size, args.due, args.per_debtor)
    print(f"[{backend} {size:,}] portfolio built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runs: dict[str, list[dict[str, Any]]] = {"dunflow": [], "floor": []}
    for attempt in range(args.repeat):
        for kind in ("floor", "dunflow") if attempt % 2 == 0 else ("dunflow", "floor"):
            copy_started = time.perf_counter()
            if backend == "sqlite":
                url = copy_sqlite(Path(base), workdir / f"run-{size}-{kind}.db")
            else:
                url = copy_postgres(project, base, f"bench_run_{size}_{kind}")
            copy_s = time.perf_counter() - copy_started
            result = run_one(kind, backend, project, url)
            drop_copy(backend, url)
            runs[kind].append(result)
            if result["actions"] != args.due or result["outbox"] != args.due or result["still_due"]:
                print(f"WARNING: {kind} wrote {result['actions']} actions / {result['outbox']} outbox rows for "
                      f"{args.due} due cases; {result['still_due']} still due", file=sys.stderr)
            print(f"[{backend} {size:,}] {kind:7s} #{attempt + 1}: {result['seconds']:.2f} s, "
                  f"peak RSS {result['maxrss_mb']:.0f} MB, actions {result['actions']}, outbox {result['outbox']} "
                  f"(copy {copy_s:.1f} s)", file=sys.stderr)
    if not args.keep:
        if backend == "sqlite":
            Path(base).unlink(missing_ok=True)
        else:
            drop_schema(base)
    summary: dict[str, Any] = {"backend": backend, "size": size, "due": args.due, "runs": runs}
    for kind, results in runs.items():
        summary[kind] = {"median_s": median([r["seconds"] for r in results]),
                         "all_s": [round(r["seconds"], 3) for r in results],
                         "rss_mb": median([r["maxrss_mb"] for r in results]),
                         "max_rss_mb": max(r["maxrss_mb"] for r in results),
                         "actions": results[0]["actions"], "outbox": results[0]["outbox"],
                         "avg_body": results[0]["avg_body"]}
    summary["floor"]["select_s"] = median([r["select_s"] for r in runs["floor"]])
    summary["ratio"] = summary["dunflow"]["median_s"] / summary["floor"]["median_s"]
    return summary


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [f"Daily run, {args.due:,} due, run date {AS_OF}, {args.repeat} run(s) each, medians", ""]
    rows = []
    for r in results:
        d, f = r["dunflow"], r["floor"]
        rows.append((r["backend"], f"{r['size']:,}", f"{d['median_s']:.2f}", f"{f['median_s']:.2f}",
                     f"**{r['ratio']:.2f}**", f"{r['due'] / d['median_s']:,.0f}", f"{r['due'] / f['median_s']:,.0f}",
                     f"{d['rss_mb']:.0f}", f"{f['rss_mb']:.0f}", f"{f['select_s'] * 1000:.0f}"))
    lines.append(table(("backend", "open", "dunflow s", "floor s", "dunflow ÷ floor", "dunflow cases/s",
                        "floor cases/s", "dunflow RSS MB", "floor RSS MB", "floor select ms"), rows))
    lines += ["", "Runs (s): " + "; ".join(f"{r['backend']} {r['size']:,}: dunflow {r['dunflow']['all_s']}, "
                                           f"floor {r['floor']['all_s']}" for r in results)]
    lines += ["Written per run: " + "; ".join(
        f"{r['backend']} {r['size']:,}: dunflow {r['dunflow']['actions']} actions / {r['dunflow']['outbox']} outbox "
        f"(body {r['dunflow']['avg_body']:.0f} chars), floor {r['floor']['actions']} / {r['floor']['outbox']} "
        f"(body {r['floor']['avg_body']:.0f} chars)" for r in results)]
    by_backend: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_backend.setdefault(r["backend"], []).append(r)
    growth = []
    for backend, group in by_backend.items():
        group.sort(key=lambda r: r["size"])
        if len(group) >= 2:
            small, large = group[0], group[-1]
            dun = large["dunflow"]["median_s"] / small["dunflow"]["median_s"]
            flo = large["floor"]["median_s"] / small["floor"]["median_s"]
            verdict = "met" if dun <= 1.1 * flo else "MISSED"
            growth.append((backend, f"{large['size']:,} / {small['size']:,}", f"{dun:.2f}", f"{flo:.2f}",
                           f"{dun / flo:.2f}", verdict))
    if growth:
        lines += ["", "O(due): growth from the smallest to the largest portfolio (target: dunflow ≤ 1.1 × floor)", ""]
        lines.append(table(("backend", "sizes", "dunflow growth", "floor growth", "dunflow ÷ floor growth",
                            "target 2"), growth))
    largest = [max(group, key=lambda r: r["size"]) for group in by_backend.values()]
    lines += ["", "Targets at the largest size run:"]
    for r in largest:
        lines.append(f"- {r['backend']} {r['size']:,}: dunflow ÷ floor {r['ratio']:.2f} (target ≤ 3: "
                     f"{'met' if r['ratio'] <= 3 else 'MISSED'}); dunflow peak RSS {r['dunflow']['max_rss_mb']:.0f} MB "
                     f"(target ≤ 200 MB: {'met' if r['dunflow']['max_rss_mb'] <= 200 else 'MISSED'})")
    return "\n".join(lines)


def profile(backend: str, size: int, args: argparse.Namespace, project: Path) -> None:
    """One dunflow run under cProfile on a fresh copy; prints the top functions."""
    workdir: Path = args.workdir
    if backend == "sqlite":
        base = workdir / f"base-{size}.db"
        build_sqlite(project, base, size, args.due, args.per_debtor)
        url = copy_sqlite(base, workdir / "profile.db")
    else:
        build_postgres(project, f"bench_base_{size}", size, args.due, args.per_debtor)
        url = copy_postgres(project, f"bench_base_{size}", "bench_profile")
    out = str(workdir / f"daily-{backend}-{size}.prof")
    result = run_one("dunflow", backend, project, url, profile=out)
    drop_copy(backend, url)
    if not args.keep:
        if backend == "sqlite":
            base.unlink(missing_ok=True)
        else:
            drop_schema(f"bench_base_{size}")
    print(f"profiled run: {result['seconds']:.2f} s for {result['due']} due (cProfile overhead included)")
    stats = pstats.Stats(out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", default="100000,1000000", help="open invoices, comma-separated")
    parser.add_argument("--due", type=int, default=50_000, help="cases due on the run date")
    parser.add_argument("--per-debtor", type=int, default=2, help="invoices per debtor")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dunflow-bench"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the base databases")
    parser.add_argument("--profile", action="store_true", help="only profile dunflow at the first size")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    args.workdir.mkdir(parents=True, exist_ok=True)
    project = _new_project(args.workdir)
    if args.profile:
        profile(backends[0], sizes[0], args, project)
        return
    print(json.dumps(machine()), file=sys.stderr)
    results = [bench(backend, size, args, project) for backend in backends for size in sizes]
    publish(results, report(results, args), args.json)


if __name__ == "__main__":
    main()
