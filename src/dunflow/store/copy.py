"""A throwaway copy of a database: every table, row for row, into a fresh SQLite file.

The simulator and `report --simulation` work on such a copy, so nothing they do can reach the real
database or its outbox. The copy is made table by table in foreign-key order through SQLAlchemy Core,
so the source may be SQLite or PostgreSQL alike; the target is migrated first, so it has the schema
the code expects. Every model registers its table on `Base.metadata` (the unit of work imports them
all), hence a table another module adds is copied without a change here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select

import dunflow.store.uow  # noqa: F401  (registers every repository's tables on Base.metadata)
from dunflow.store.db import READ_ONLY, make_engine, migrate
from dunflow.store.orm import Base

CHUNK = 5000


def throwaway_engine(path: Path) -> Engine:
    """A migrated SQLite database at `path` tuned for speed over durability: it is deleted after use, so a
    crash may lose it (synchronous=OFF), which costs nothing."""
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    migrate(engine)
    return engine


def copy_database(source: Engine, target: Engine) -> dict[str, int]:
    """Copy every dunflow table from `source` into the (empty, migrated) `target`; rows copied per table.

    Reads in one transaction (a consistent snapshot of the source), writes in one."""
    counts: dict[str, int] = {}
    with source.connect().execution_options(**{READ_ONLY: True}) as reading, target.begin() as writing:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = 0
            result = reading.execution_options(stream_results=True).execute(select(table))
            while rows := result.mappings().fetchmany(CHUNK):
                writing.execute(insert(table), [dict(row) for row in rows])
                counts[table.name] += len(rows)
    return counts
