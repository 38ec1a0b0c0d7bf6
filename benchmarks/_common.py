"""Helpers shared by the benchmark scripts: database URLs, PostgreSQL schemas, measuring a subprocess.

Run as a script it is the RSS wrapper: `python _common.py rss -- CMD...` runs CMD, relays
its stdout and adds one JSON line `{"maxrss_mb": ...}` read from
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`. A fresh wrapper per measurement means
RUSAGE_CHILDREN covers exactly one child, the measured one.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
DEFAULT_PG = os.environ.get("DUNFLOW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# --- URLs ---------------------------------------------------------------------------------------

def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def pg_url(schema: str, base: str = DEFAULT_PG) -> str:
    """SQLAlchemy URL whose connections use `schema` (and only it) through search_path."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL for psycopg/psql: drop the '+psycopg' driver part."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def sqlite_path(url: str) -> Path:
    assert url.startswith("sqlite:///"), url
    return Path(url[len("sqlite:///"):])


def pg_admin() -> Any:
    import psycopg

    return psycopg.connect(libpq_url(DEFAULT_PG), autocommit=True)


def drop_schema(schema: str) -> None:
    with pg_admin() as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def fresh_schema(schema: str) -> None:
    with pg_admin() as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'CREATE SCHEMA "{schema}"')


# --- measuring ----------------------------------------------------------------------------------

def measure(cmd: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run CMD (which prints one JSON object as its last stdout line) in a fresh RSS wrapper.

    Returns the worker's JSON plus `maxrss_mb` (peak RSS of the worker process) and
    `wall_s` (the whole subprocess, interpreter start and imports included).
    """
    started = time.perf_counter()
    proc = subprocess.run([PYTHON, str(HERE / "_common.py"), "rss", "--", *cmd], capture_output=True, text=True,
                          timeout=timeout)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"benchmark worker failed ({proc.returncode}): {' '.join(cmd)}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-2])
    result.update(json.loads(lines[-1]))
    result["wall_s"] = wall
    return result


def _rss_wrapper(cmd: list[str]) -> int:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        return proc.returncode
    kilobytes = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    print(json.dumps({"maxrss_mb": kilobytes / 1024}))
    return 0


def emit(result: dict[str, Any]) -> None:
    """A worker's result: one JSON line on stdout."""
    print(json.dumps(result, default=str), flush=True)


# --- reporting ----------------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, str]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    import sqlite3

    info = {"nproc": run("nproc"), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform()}
    import dunflow

    source = Path(dunflow.__file__).resolve().parents[2]
    commit = source / "COMMIT"  # a snapshot made with `git archive` (see README)
    info["dunflow"] = f"{source} @ " + (commit.read_text().strip() if commit.exists()
                                          else run("git", "-C", str(source), "rev-parse", "HEAD") or "?")
    free = run("free", "-h").splitlines()
    info["memory"] = free[1] if len(free) > 1 else "?"
    return info


def publish(results: list[dict[str, Any]], text: str, json_path: Path | None) -> None:
    """Print the report; with --json, also write machine, raw results and report to that file."""
    print(text)
    if json_path:
        json_path.write_text(json.dumps({"machine": machine(), "results": results, "report": text}, indent=1,
                                        default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table (pasted into RESULTS.md as printed)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "rss" and sys.argv[2] == "--":
        sys.exit(_rss_wrapper(sys.argv[3:]))
    sys.exit("usage: _common.py rss -- CMD...")
