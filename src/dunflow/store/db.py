"""Engine, schema migrations and transactions.

SQLite is tuned for a single-writer job (WAL, synchronous=NORMAL, busy timeout).
A writing transaction takes the lock up front (BEGIN IMMEDIATE), so two workers
never interleave a read-modify-write; a connection marked read-only (the
`READ_ONLY` execution option, set by `Store.reading()`) begins deferred and reads
a WAL snapshot without waiting for a writer. PostgreSQL needs neither: the runner
takes advisory locks per debtor, then the cases FOR UPDATE (store/cases.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from dunflow.errors import DunflowError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READ_ONLY = "dunflow_read_only"  # execution option: this connection only reads


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(url, future=True)
    except (ArgumentError, ImportError, ValueError) as exc:  # ValueError: a port that is not a number
        raise DunflowError(f"bad database URL '{url}': {exc}",
                           "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db") from exc
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is current).

    The check reads without the write lock, so a reader is not held up by a running writer; only an
    actual upgrade takes it.
    """
    try:
        with engine.connect() as connection:
            reading = connection.execution_options(**{READ_ONLY: True})
            with reading.begin():
                current = MigrationContext.configure(reading).get_current_revision()
                head = ScriptDirectory.from_config(_alembic_config(reading)).get_current_head()
        if current != head:
            with engine.begin() as connection:
                command.upgrade(_alembic_config(connection), "head")
    except OperationalError as exc:
        raise DunflowError(f"cannot open the database: {exc.orig}",
                           "check --database / DUNFLOW_DATABASE_URL and that the server is running") from exc
    except ProgrammingError as exc:
        raise DunflowError(f"cannot set up the database schema: {str(exc.orig).splitlines()[0]}",
                           "check that the database (and the schema in its search_path) exists and that the "
                           "user may create tables in it") from exc
