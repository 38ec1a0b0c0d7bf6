"""DDL for running the dunning core at scale, rendered from the real schema (the ORM's tables).

Two layouts, both keyed by the debtor, because a debtor's cases, audit trail and messages are always
read and written together (one run batch, one grouped notice, one advisory lock):

- `partition_ddl(n)`: plain PostgreSQL, `cases`, `actions`, `outbox` (and the invoices and failures they
  reference) hash-partitioned by `debtor_id` into `n` partitions;
- `citus_ddl()`: Citus (distributed PostgreSQL): the same tables distributed by `debtor_id`, co-located
  with `debtors` (distributed by `id`), and the policy versions and the run log as reference tables.

Both need what PostgreSQL and Citus ask of a table split by a column: every primary key and unique key
includes it, and a foreign key between two split tables includes it on both sides. `actions` has no
`debtor_id` of its own, so both layouts first give it one (filled from its case). Print them with
`python -m dunflow.store.scale partition|citus [N]`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from sqlalchemy import ForeignKeyConstraint, Table, UniqueConstraint

import dunflow.store.uow  # noqa: F401  (registers every repository's tables on Base.metadata)
from dunflow.store.orm import Base

DEBTORS = "debtors"
KEY = "debtor_id"
# Every table that belongs to one debtor, split by debtor, in the order their foreign keys allow.
SPLIT = ("invoices", "cases", "actions", "outbox", "delivery_attempts", "case_failures", "holds", "debtor_ibans",
         "arrangements", "installments", "arrangement_invoices", "disputes", "promises", "allocations", "tasks",
         "debts", "debt_lines", "debt_line_payments", "collection_cases", "collection_reported")
# Small tables read by every batch (one copy on every Citus node), and the payments: an unmatched payment has
# no debtor yet, so they cannot be split by one.
REFERENCE = ("policy_versions", "runs", "payments", "policy_applies", "policy_activations", "active_policies")
# Tables without a debtor_id of their own get one, filled from the row they belong to: (parent, via column).
ADDED_KEY = {"actions": ("cases", "case_id"), "installments": ("arrangements", "arrangement_id"),
             "arrangement_invoices": ("invoices", "invoice_id"), "disputes": ("invoices", "invoice_id"),
             "promises": ("invoices", "invoice_id"), "allocations": ("invoices", "invoice_id"),
             "delivery_attempts": ("outbox", "message_id"), "debts": ("invoices", "invoice_id"),
             "debt_lines": ("invoices", "invoice_id"), "debt_line_payments": ("debt_lines", "line_id"),
             "collection_cases": ("invoices", "invoice_id"),
             "collection_reported": ("collection_cases", "collection_case_id")}


@dataclass(frozen=True)
class Layout:
    """What the DDL does, as data (the test checks it against the schema)."""

    split: dict[str, str]  # table → its split column
    reference: tuple[str, ...]
    primary_keys: dict[str, tuple[str, ...]]
    unique_keys: dict[str, list[tuple[str, ...]]]
    foreign_keys: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]]  # (table, columns, referred, columns)


def tables() -> dict[str, Table]:
    return dict(Base.metadata.tables)


def layout() -> Layout:
    found = tables()
    split = {DEBTORS: "id", **{name: KEY for name in SPLIT}}
    primary: dict[str, tuple[str, ...]] = {}
    unique: dict[str, list[tuple[str, ...]]] = {}
    foreign: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = []
    for name in SPLIT:
        table = found[name]
        primary[name] = (KEY, *(c.name for c in table.primary_key.columns if c.name != KEY))
        unique[name] = [(KEY, *(c.name for c in u.columns if c.name != KEY)) for u in _uniques(table)]
        for fk in _foreign_keys(table):
            columns = tuple(element.parent.name for element in fk.elements)
            referred = fk.referred_table.name
            targets = tuple(element.column.name for element in fk.elements)
            if referred in SPLIT and KEY not in columns:
                columns, targets = (KEY, *columns), (KEY, *targets)
            foreign.append((name, columns, referred, targets))
    return Layout(split, REFERENCE, primary, unique, foreign)


def _uniques(table: Table) -> list[UniqueConstraint]:
    return sorted((c for c in table.constraints if isinstance(c, UniqueConstraint)),
                  key=lambda c: [col.name for col in c.columns])


def _foreign_keys(table: Table) -> list[ForeignKeyConstraint]:
    return sorted(table.foreign_key_constraints, key=lambda fk: [e.parent.name for e in fk.elements])


def _rekey(plan: Layout, foreign: bool = True) -> list[str]:
    """Keys that include debtor_id, on the unsplit tables (both layouts start here); with `foreign`, the
    foreign keys made again to fit."""
    found = tables()
    statements: list[str] = []
    for name, (parent, via) in ADDED_KEY.items():
        statements += [f"ALTER TABLE {name} ADD COLUMN {KEY} integer",
                       f"UPDATE {name} SET {KEY} = {parent}.{KEY} FROM {parent} WHERE {parent}.id = {name}.{via}",
                       f"ALTER TABLE {name} ALTER COLUMN {KEY} SET NOT NULL"]
    for name in reversed(SPLIT):  # drop the foreign keys first, the referred keys after
        for fk in _foreign_keys(found[name]):
            statements.append(f"ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {_fk_name(found[name], fk)}")
    for name in SPLIT:
        table = found[name]
        statements.append(f"ALTER TABLE {name} DROP CONSTRAINT {name}_pkey, "
                          f"ADD PRIMARY KEY ({', '.join(plan.primary_keys[name])})")
        for u, columns in zip(_uniques(table), plan.unique_keys[name]):
            statements.append(f"ALTER TABLE {name} DROP CONSTRAINT {_unique_name(table, u)}, "
                              f"ADD UNIQUE ({', '.join(columns)})")
    return statements + (_add_foreign_keys(plan) if foreign else [])


def _add_foreign_keys(plan: Layout) -> list[str]:
    return [f"ALTER TABLE {name} ADD FOREIGN KEY ({', '.join(columns)}) REFERENCES {referred} ({', '.join(targets)})"
            for name, columns, referred, targets in plan.foreign_keys]


def _fk_name(table: Table, fk: ForeignKeyConstraint) -> str:
    """PostgreSQL's own name for an unnamed foreign key (what the migrations created)."""
    return str(fk.name) if fk.name else f"{table.name}_{'_'.join(e.parent.name for e in fk.elements)}_fkey"


def _unique_name(table: Table, unique: UniqueConstraint) -> str:
    return str(unique.name) if unique.name else f"{table.name}_{'_'.join(c.name for c in unique.columns)}_key"


def unenforced() -> list[tuple[str, str]]:
    """(table, foreign key name) of the reference tables' foreign keys into distributed tables, which Citus
    cannot keep (a payment's debtor): dropped, and checked by the application instead."""
    found = tables()
    return [(name, _fk_name(found[name], fk)) for name in REFERENCE if name in found
            for fk in _foreign_keys(found[name]) if fk.referred_table.name in (DEBTORS, *SPLIT)]


def citus_ddl() -> list[str]:
    """Statements that turn a migrated dunflow database into a Citus one (run on the coordinator)."""
    plan = layout()
    statements = ["CREATE EXTENSION IF NOT EXISTS citus", *_rekey(plan)]
    statements += [f"ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {fk}" for name, fk in unenforced()]
    statements += [f"SELECT create_reference_table('{name}')" for name in plan.reference]
    statements.append(f"SELECT create_distributed_table('{DEBTORS}', 'id')")
    statements += [f"SELECT create_distributed_table('{name}', '{KEY}', colocate_with => '{DEBTORS}')"
                   for name in SPLIT]
    return statements


def partition_ddl(partitions: int = 8) -> list[str]:
    """Statements that hash-partition the dunning core by debtor on plain PostgreSQL: each table is
    re-created partitioned (`LIKE … INCLUDING ALL`), filled from the old one, and put in its place."""
    plan = layout()
    statements = _rekey(plan, foreign=False)
    for name in SPLIT:
        statements += [
            f"CREATE TABLE {name}_split (LIKE {name} INCLUDING ALL) PARTITION BY HASH ({KEY})",
            *(f"CREATE TABLE {name}_p{r} PARTITION OF {name}_split FOR VALUES WITH (MODULUS {partitions}, "
              f"REMAINDER {r})" for r in range(partitions)),
            f"INSERT INTO {name}_split SELECT * FROM {name}",
            f"ALTER SEQUENCE IF EXISTS {name}_id_seq OWNED BY NONE",
            f"DROP TABLE {name}",
            f"ALTER TABLE {name}_split RENAME TO {name}",
            f"ALTER SEQUENCE IF EXISTS {name}_id_seq OWNED BY {name}.id",
        ]
    return statements + _add_foreign_keys(plan)


if __name__ == "__main__":  # pragma: no cover - a printing aid for the README
    kind = sys.argv[1] if len(sys.argv) > 1 else "citus"
    rendered = citus_ddl() if kind == "citus" else partition_ddl(int(sys.argv[2]) if len(sys.argv) > 2 else 8)
    print(";\n".join(rendered) + ";")
