"""Read side of the policy lifecycle: `policies list`, `policies history NAME`, `policies show NAME@VERSION`."""
from __future__ import annotations

from typing import Any

from dunflow.errors import DunflowError
from dunflow.store.uow import UnitOfWork


def list_policies(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Each active policy: version, hash, when and by whom it was applied, and its open cases."""
    return [{"name": r.name, "version": r.version, "hash": r.content_hash, "applied_at": r.applied_at.isoformat(),
             "applied_by": r.applied_by, "message": r.message, "cases": r.cases or 0}
            for r in uow.applies.active_with_applies()]


def policy_history(uow: UnitOfWork, name: str) -> list[dict[str, Any]]:
    """Every apply that changed policy NAME, oldest first."""
    rows = uow.applies.history(name)
    if not rows:
        raise DunflowError(f"policy '{name}' was never applied", "see `dunflow policies list`")
    return [{"apply": r.id, "applied_at": r.applied_at.isoformat(), "applied_by": r.applied_by, "message": r.message,
             "change": r.change, "version": r.version, "hash": r.content_hash} for r in rows]


def show_version(uow: UnitOfWork, ref: str) -> dict[str, Any]:
    """One stored version by `NAME@VERSION` (or `NAME@HASH-PREFIX`), with its exact text."""
    name, _, version = ref.partition("@")
    if not version:
        raise DunflowError(f"'{ref}' names no version", "write NAME@VERSION, e.g. b2b-standard@2")
    row = (uow.applies.stored_version(name, version=int(version)) if version.isdigit()
           else uow.applies.stored_version(name, hash_prefix=version))
    if row is None:
        raise DunflowError(f"no stored version {ref}", f"see `dunflow policies history {name}`")
    return {"name": row.name, "version": row.version, "hash": row.content_hash, "file": row.source_file,
            "stored_at": row.created_at.isoformat(), "source": row.source}
