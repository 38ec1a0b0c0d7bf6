"""Many rows in one driver `executemany`: values made ready once per column, no SQL compiled per batch.

SQLAlchemy's `execute(insert(table), dicts)` prepares every parameter of every row through its
compiler and type machinery, which costs more than the database's own work for a run's actions and
outbox rows. Here the statement is plain SQL text built from the table's own columns (never from a
caller's string; names quoted where the dialect needs it: `where` is one), the values go through the
columns' own bind processors (so they are stored exactly as the ORM stores them: JSON, amounts as text on SQLite, …), and the rows are sent as tuples with
`exec_driver_sql`, which keeps SQLAlchemy's error translation (a taken unique key is still an
`IntegrityError`, so the unit of work still reports a `DuplicateWrite`). Columns a row leaves out get
the column's scalar default, as an ORM insert would; rows of different shapes, or a left-out column with a
computed default, go through SQLAlchemy's own insert instead.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from sqlalchemy import Column, Connection, Table, insert


def _mark(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _processor(connection: Connection, column: Column[Any]) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = column.type._cached_bind_processor(connection.dialect)
    return processor


def _defaults(table: Table, given: Sequence[str]) -> dict[str, Any] | None:
    """The scalar defaults of the columns not given (the primary key is the database's); None when one of
    them is computed (a callable or SQL expression: then SQLAlchemy's own insert computes it)."""
    found: dict[str, Any] = {}
    for column in table.columns:
        if column.name in given or column.primary_key:
            continue
        default = column.default
        if default is None:
            continue
        if not getattr(default, "is_scalar", False):
            return None
        found[column.name] = getattr(default, "arg")
    return found


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (all with the same keys, which must be columns of `table`)."""
    if not rows:
        return
    given = list(rows[0])
    defaults = _defaults(table, given)
    if defaults is None or any(len(row) != len(given) or row.keys() != rows[0].keys() for row in rows):
        connection.execute(insert(table), list(rows))  # rows of different shapes, computed defaults: SQLAlchemy's
        return
    names = given + list(defaults)
    processors = [(i, p) for i, p in enumerate(_processor(connection, table.c[name]) for name in names) if p]
    constant = tuple(defaults.values())
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = [row[name] for name in given]
        values += constant
        for i, processor in processors:
            if values[i] is not None:
                values[i] = processor(values[i])
        params.append(tuple(values))
    mark, quote = _mark(connection), connection.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) "
           f"VALUES ({', '.join([mark] * len(names))})")
    connection.exec_driver_sql(sql, params)


def update_rows(connection: Connection, table: Table, set_columns: Sequence[str], where_columns: Sequence[str],
                rows: Sequence[tuple[Any, ...]], extra_set: str = "") -> int:
    """UPDATE … SET set_columns WHERE where_columns (each row: the set values, then the where values); the
    number of rows changed. `extra_set` is a fixed SQL assignment of this module's callers (never user text)."""
    if not rows:
        return 0
    processors = [_processor(connection, table.c[name]) for name in (*set_columns, *where_columns)]
    params = [tuple(value if processor is None or value is None else processor(value)
                    for value, processor in zip(row, processors)) for row in rows]
    mark, quote = _mark(connection), connection.dialect.identifier_preparer.quote
    assignments = ", ".join([f"{quote(name)} = {mark}" for name in set_columns] + ([extra_set] if extra_set else []))
    condition = " AND ".join(f"{quote(name)} = {mark}" for name in where_columns)
    result = connection.exec_driver_sql(f"UPDATE {quote(table.name)} SET {assignments} WHERE {condition}", params)
    return int(result.rowcount)
