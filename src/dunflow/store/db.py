"""Engine, schema migrations and transactions.

SQLite is tuned for a single-writer job (WAL, synchronous=NORMAL, busy timeout)
and writes take the lock up front (BEGIN IMMEDIATE), so two workers never
interleave a read-modify-write. PostgreSQL gets row locks (FOR UPDATE SKIP LOCKED).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from dunflow.errors import DunflowError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(url, future=True)
    except (ArgumentError, ImportError) as exc:
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is current)."""
    try:
        with engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
            if current != head:
                command.upgrade(_alembic_config(connection), "head")
    except OperationalError as exc:
        raise DunflowError(f"cannot open the database: {exc.orig}",
                           "check --database / DUNFLOW_DATABASE_URL and that the server is running") from exc
    except ProgrammingError as exc:
        raise DunflowError(f"cannot set up the database schema: {str(exc.orig).splitlines()[0]}",
                           "check that the database (and the schema in its search_path) exists and that the "
                           "user may create tables in it") from exc


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: commits on success, rolls back on any exception."""
    with engine.begin() as connection:
        yield connection
