"""Collectors' tasks: list them, close them, and let a contact resume or pause the ladder as the policy says.

A task closed with outcome `contacted` looks up `on_contacted` on the step it came from (via the cases its
message was queued for): `resume` releases a hold on the debtor, so the ladder goes on at the next run;
`{pause: 14d}` holds the debtor for 14 days (an ordinary hold, shown by `dunflow show debtor` and ended by its
timer or by `dunflow release`). Other outcomes, and steps without `on_contacted`, leave the ladder alone.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dunflow.domain.policy import OnContacted
from dunflow.errors import DunflowError
from dunflow.events.holds import active_hold, place_hold, release_debtor
from dunflow.store.uow import UnitOfWork

OUTCOMES = ("contacted", "no_answer", "wrong_number", "other")
STATUSES = ("open", "done", "all")


def task_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "status": row.status, "debtor": row.debtor_code,
            "debtor_name": row.debtor_name, "phone": row.debtor_phone or "", "invoice": row.invoice_number,
            "step": row.step, "assignee": row.assignee, "reason": row.reason, "message_key": row.message_key,
            "created_on": row.created_on.isoformat(), "due_on": row.due_on.isoformat(), "outcome": row.outcome,
            "note": row.note, "closed_at": row.closed_at.isoformat() if row.closed_at else None}


def list_tasks(uow: UnitOfWork, status: str = "open") -> list[dict[str, Any]]:
    return [task_json(row) for row in uow.tasks.listing(None if status == "all" else status)]


def close_task(uow: UnitOfWork, task_id: int, outcome: str, note: str, on: date,
               actor: str | None = None) -> dict[str, Any]:
    """Close an open task; with `contacted`, apply the step's `on_contacted`. The task's JSON plus `ladder`:
    what happened to the dunning (`resumed`, `paused until DATE`, or `unchanged`)."""
    if outcome not in OUTCOMES:
        raise DunflowError(f"unknown outcome '{outcome}'", f"one of {', '.join(OUTCOMES)}")
    if not note.strip():
        raise DunflowError("closing a task needs a note", 'say what happened, e.g. --note "promised to pay Friday"')
    task = uow.tasks.get(task_id)
    if task is None:
        raise DunflowError(f"no task {task_id}", "`dunflow tasks --status all` lists them")
    if task.status != "open" or not uow.tasks.close(task_id, outcome, note, uow.clock.now()):
        raise DunflowError(f"task {task_id} is already done", "`dunflow tasks --status done` shows how it was closed")
    ladder = "unchanged"
    rule = _on_contacted(uow, task) if outcome == "contacted" else None
    if rule is not None:
        ladder = _apply(uow, task, rule, note, on, actor)
    return {**task_json(uow.tasks.get(task_id)), "ladder": ladder}


def _on_contacted(uow: UnitOfWork, task: Any) -> OnContacted | None:
    """The step's rule, from the policy versions of the cases the task's message was queued for."""
    for version_id in reversed(uow.tasks.policy_versions_of(task.message_key, task.invoice_id)):
        policy = uow.versions.compiled(version_id).policy
        for step in policy.all_steps:
            if step.id == task.step and step.on_contacted is not None:
                return step.on_contacted
    return None


def _apply(uow: UnitOfWork, task: Any, rule: OnContacted, note: str, on: date, actor: str | None) -> str:
    if rule.resumes:
        if active_hold(uow, task.debtor_id, on) is None:
            return "resumed"
        release_debtor(uow, task.debtor_code, on, actor)
        return "resumed (hold released)"
    until = on + timedelta(days=rule.pause_days)
    place_hold(uow, task.debtor_code, until, f"contacted (task {task.id}): {note}", on, actor)
    return f"paused until {until.isoformat()}"
