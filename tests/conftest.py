"""Shared fixtures: a demo project on disk, and databases on SQLite and a real PostgreSQL.

PostgreSQL comes from DUNFLOW_TEST_POSTGRES_URL (default: the local server on
127.0.0.1:5432, database `test`). Each test gets its own schema, dropped after.
If the server is unreachable the tests FAIL; set DUNFLOW_SKIP_POSTGRES=1 to skip
them knowingly on a machine without PostgreSQL (never in CI).

Hypothesis runs under the profile named by DUNFLOW_HYPOTHESIS_PROFILE, default `ci`:
derandomized (the same examples on every run and machine, so a red CI run is red on
your laptop too), no example database (nothing remembered between runs changes what
runs), and a failing example printed as a reproduction blob (`@reproduce_failure`).
`explore` draws fresh random examples each run and remembers failures in .hypothesis/:
use it to hunt for new bugs, then pin what it finds as an explicit example.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from dunflow.scaffold import init_project

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("DUNFLOW_HYPOTHESIS_PROFILE", "ci"))

POSTGRES_URL = os.environ.get("DUNFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_schema_url() -> Iterator[str]:
    if os.environ.get("DUNFLOW_SKIP_POSTGRES") == "1":
        pytest.skip("DUNFLOW_SKIP_POSTGRES=1: PostgreSQL tests skipped on purpose")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure must fail loudly
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc}); start it or set DUNFLOW_SKIP_POSTGRES=1")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dunflow.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A fresh `dunflow init` project with the shipped policies, templates and sample data."""
    directory = tmp_path / "demo"
    init_project(directory)
    return directory
