"""`dunflow apply`: carry out exactly what a plan showed, in one transaction, one apply at a time.

The plan is computed again inside the apply's transaction (under the apply lock) and
must have the saved plan's digest: same files, same database, same moves. Otherwise
the saved plan is stale and nothing changes. The lock: PostgreSQL, a transaction-scoped
advisory lock taken without waiting (a second apply is refused at once); SQLite, the
write lock every transaction takes up front (BEGIN IMMEDIATE), after which the second
apply finds the database changed and is refused as stale.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dunflow.errors import DunflowError
from dunflow.policy.plan import Plan, compute_plan
from dunflow.policy.validate import PolicySet
from dunflow.store.uow import Store, UnitOfWork


@dataclass(frozen=True)
class SavedPlan:
    """What apply needs from a plan file: its date, digest, and what it was computed from."""

    as_of: date
    digest: str
    database: str
    files: dict[str, str]

    @classmethod
    def of(cls, plan: Plan) -> SavedPlan:
        return cls(plan.as_of, plan.digest, plan.database, plan.files)

    @classmethod
    def read(cls, path: Path) -> SavedPlan:
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != "dunflow-plan/v1":
                raise ValueError("not a dunflow plan")
            return cls(date.fromisoformat(data["as_of"]), data["digest"], data["database"], data["files"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DunflowError(f"{path}: cannot read the plan ({exc})",
                               "write one with `dunflow plan --out plan.json`") from exc


def apply_plan(store: Store, files: PolicySet, saved: SavedPlan, actor: str, message: str) -> Plan:
    """Activate the files' versions and move the cases exactly as `saved` said; all or nothing."""
    with store.writing() as uow:
        take_apply_lock(uow)
        plan = compute_plan(uow, files, saved.as_of)
        refuse_stale(saved, plan)
        if plan.has_changes:
            _write(uow, files, plan, actor, message, uow.clock.now())
    return plan


def take_apply_lock(uow: UnitOfWork) -> None:
    """Refuse at once when another apply holds the lock (PostgreSQL; SQLite serialised on BEGIN IMMEDIATE)."""
    if not uow.applies.take_lock():
        raise DunflowError("another `dunflow apply` is running on this database",
                           "wait for it to finish, then run `dunflow plan` again and apply that plan")


def refuse_stale(saved: SavedPlan, plan: Plan) -> None:
    if plan.digest == saved.digest:
        return
    reasons = []
    changed = sorted(name for name in set(saved.files) | set(plan.files) if saved.files.get(name) != plan.files.get(name))
    if changed:
        reasons.append(f"policy files changed since the plan: {', '.join(changed)}")
    if saved.database != plan.database:
        reasons.append("the database changed since the plan (a run, an import, an event or another apply)")
    raise DunflowError("the saved plan is stale: " + ("; ".join(reasons) or "it no longer matches"),
                       "run `dunflow plan` again, review it, and apply the new plan")


def _write(uow: UnitOfWork, files: PolicySet, plan: Plan, actor: str, message: str, now: datetime) -> None:
    ids = uow.versions.register(files, now)
    apply_id = uow.applies.record_apply(now, actor, message, plan.digest, len(plan.moves))
    _activate(uow, plan, ids, apply_id)
    _move_cases(uow, plan, ids, apply_id, actor, now)


def _activate(uow: UnitOfWork, plan: Plan, ids: dict[str, int], apply_id: int) -> None:
    changed = {change.name: change.change for change in plan.changes}
    rows = [dict(apply_id=apply_id, name=name, policy_version_id=ids.get(name), change=change)
            for name, change in sorted(changed.items())]
    if plan.first_apply:  # the first apply records every policy it makes active
        rows += [dict(apply_id=apply_id, name=name, policy_version_id=ids[name], change="activated")
                 for name in sorted(ids) if name not in changed]
    uow.applies.record_activations(rows)
    uow.applies.replace_active(apply_id, ids)


def _move_cases(uow: UnitOfWork, plan: Plan, ids: dict[str, int], apply_id: int, actor: str,
                now: datetime) -> None:
    for move in plan.moves:
        if not uow.applies.move_case(move.case_id, move.revision, ids[move.to_policy], move.to_state,
                                     move.to_resume_state, move.new_next):
            raise DunflowError(f"invoice {move.invoice} changed while applying", "run `dunflow plan` again")
    uow.applies.record_migrations([dict(
        case_id=m.case_id, kind="migration", step=m.to_state, channel="", at=plan.as_of, recorded_at=now,
        policy_version_id=ids[m.to_policy], from_state=m.from_state, to_state=m.to_state,
        rule=f"apply #{apply_id}: {m.from_policy} v{m.from_version} → {m.to_policy} v{m.to_version}; "
             + "; ".join(m.why), status="done", actor=actor, message_key=None,
        idempotency_key=f"apply:{apply_id}:case:{m.case_id}") for m in plan.moves])
