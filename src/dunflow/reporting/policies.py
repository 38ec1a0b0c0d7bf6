"""Read side of the policy lifecycle: `policies list`, `policies history NAME`, `policies show NAME@VERSION`."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from dunflow.errors import DunflowError
from dunflow.store.applies import ActivePolicy, PolicyActivation, PolicyApply
from dunflow.store.orm import Case, PolicyVersion, table_of

VERSIONS, ACTIVE, APPLIES = table_of(PolicyVersion), table_of(ActivePolicy), table_of(PolicyApply)
ACTIVATIONS, CASES = table_of(PolicyActivation), table_of(Case)


def list_policies(connection: Connection) -> list[dict[str, Any]]:
    """Each active policy: version, hash, when and by whom it was applied, and its open cases."""
    open_cases = (select(VERSIONS.c.name, func.count().label("cases")).join(CASES, CASES.c.policy_version_id == VERSIONS.c.id)
                  .group_by(VERSIONS.c.name).subquery())
    rows = connection.execute(
        select(ACTIVE.c.name, VERSIONS.c.version, VERSIONS.c.content_hash, APPLIES.c.applied_at,
               APPLIES.c.applied_by, APPLIES.c.message, open_cases.c.cases)
        .join(VERSIONS, VERSIONS.c.id == ACTIVE.c.policy_version_id).join(APPLIES, APPLIES.c.id == ACTIVE.c.apply_id)
        .outerjoin(open_cases, open_cases.c.name == ACTIVE.c.name).order_by(ACTIVE.c.name))
    return [{"name": r.name, "version": r.version, "hash": r.content_hash, "applied_at": r.applied_at.isoformat(),
             "applied_by": r.applied_by, "message": r.message, "cases": r.cases or 0} for r in rows]


def policy_history(connection: Connection, name: str) -> list[dict[str, Any]]:
    """Every apply that changed policy NAME, oldest first."""
    rows = connection.execute(
        select(APPLIES.c.id, APPLIES.c.applied_at, APPLIES.c.applied_by, APPLIES.c.message, ACTIVATIONS.c.change,
               VERSIONS.c.version, VERSIONS.c.content_hash)
        .join(APPLIES, APPLIES.c.id == ACTIVATIONS.c.apply_id)
        .outerjoin(VERSIONS, VERSIONS.c.id == ACTIVATIONS.c.policy_version_id)
        .where(ACTIVATIONS.c.name == name).order_by(APPLIES.c.id)).all()
    if not rows:
        raise DunflowError(f"policy '{name}' was never applied", "see `dunflow policies list`")
    return [{"apply": r.id, "applied_at": r.applied_at.isoformat(), "applied_by": r.applied_by, "message": r.message,
             "change": r.change, "version": r.version, "hash": r.content_hash} for r in rows]


def show_version(connection: Connection, ref: str) -> dict[str, Any]:
    """One stored version by `NAME@VERSION` (or `NAME@HASH-PREFIX`), with its exact text."""
    name, _, version = ref.partition("@")
    query = select(VERSIONS).where(VERSIONS.c.name == name)
    if version.isdigit():
        query = query.where(VERSIONS.c.version == int(version))
    elif version:
        query = query.where(VERSIONS.c.content_hash.startswith(version))
    else:
        raise DunflowError(f"'{ref}' names no version", "write NAME@VERSION, e.g. b2b-standard@2")
    row = connection.execute(query).first()
    if row is None:
        raise DunflowError(f"no stored version {ref}", f"see `dunflow policies history {name}`")
    return {"name": row.name, "version": row.version, "hash": row.content_hash, "file": row.source_file,
            "stored_at": row.created_at.isoformat(), "source": row.source}
