"""The drivers' own bulk paths for large imports: ids reserved up front, rows written as ready tuples.

Through SQLAlchemy, preparing the parameters of a million-row `executemany` costs more than the
database's work, and learning the new ids means reading every row back. Here the unit of work's
own DBAPI connection (so the same transaction: all or nothing) is used directly:
- ids are reserved before the rows are written, so invoices and their cases go out in one pass:
  on PostgreSQL from the table's sequence (`nextval` over `generate_series`, safe beside other
  writers); on SQLite after `max(id)`, which the writing transaction's lock (BEGIN IMMEDIATE) keeps
  ours until commit. Reserve, then write those rows, before reserving again for the same table.
- rows go out with `COPY … FROM STDIN` on PostgreSQL (psycopg's `cursor.copy`) and
  `executemany` of plain tuples on SQLite;
- lookups by many keys take one statement per few thousand keys (`= ANY(array)` on PostgreSQL).

Values are what the ORM stores: on SQLite dates as ISO text and amounts as exact decimal text
(`store.types.Amount`), which the sqlite3 adapters below produce for plain `date` and `Decimal`.
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import Connection

sqlite3.register_adapter(Decimal, str)  # the text Amount stores; SQLAlchemy's own binds are str already
sqlite3.register_adapter(date, date.isoformat)  # the text SQLAlchemy's SQLite Date stores
TABLES = frozenset({"debtors", "invoices", "cases"})
SQLITE_KEYS_PER_QUERY = 900  # well under SQLite's bound-parameter limit on every build


class BulkRepository:
    """Bulk reads and writes of debtors, invoices and cases on the unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def _driver(self) -> Any:
        return self.connection.connection.driver_connection

    def reserve_ids(self, table: str, count: int) -> list[int]:
        """`count` fresh primary keys for `table`, ascending."""
        _known(table)
        if count <= 0:
            return []
        with closing(self._driver().cursor()) as cursor:
            if self.postgres:
                cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                               (table, count))
                return sorted(row[0] for row in cursor.fetchall())
            top = cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
            return list(range(top + 1, top + 1 + count))

    def max_id(self, table: str) -> int:
        """The highest id in `table` now (0 when empty)."""
        _known(table)
        with closing(self._driver().cursor()) as cursor:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            return int(cursor.fetchone()[0])

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Write `rows` (values in `columns` order) into `table`."""
        _known(table)
        if not rows:
            return
        names = ", ".join(columns)
        with closing(self._driver().cursor()) as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)

    def lookup(self, table: str, key: str, keys: Sequence[str], columns: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """key -> (columns...) of the rows of `table` whose `key` column is one of `keys`."""
        _known(table)
        if not keys:
            return {}
        wanted = ", ".join((key, *columns))
        found: dict[str, tuple[Any, ...]] = {}
        with closing(self._driver().cursor()) as cursor:
            if self.postgres:
                cursor.execute(f"SELECT {wanted} FROM {table} WHERE {key} = ANY(%s)", (list(keys),))
                found.update((row[0], row[1:]) for row in cursor.fetchall())
                return found
            for start in range(0, len(keys), SQLITE_KEYS_PER_QUERY):
                part = keys[start:start + SQLITE_KEYS_PER_QUERY]
                cursor.execute(f"SELECT {wanted} FROM {table} WHERE {key} IN ({', '.join('?' * len(part))})", part)
                found.update((row[0], row[1:]) for row in cursor.fetchall())
        return found


def _known(table: str) -> None:
    """Table names are put into SQL text: only this module's own, never a caller's string."""
    if table not in TABLES:
        raise ValueError(f"bulk access to table {table!r} is not provided")
