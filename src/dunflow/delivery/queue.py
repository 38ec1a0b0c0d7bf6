"""The `queue` channel: a message for the `task` channel becomes a task for a person (`dunflow tasks`).

Kinds: `call` (a step whose channel is `task`: phone the debtor), `find_address` (the debtor could not be reached
on the step's channels, so the run routed the message to a task), `account_manager` (an escalation handed to the
account manager or an internal team) and `delivery_failed` (a required message whose delivery ended dead: the
delivery code calls `open_task`). Delivering the same message twice finds the task made the first time.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dunflow.domain.policy import Escalation
from dunflow.store.uow import Store, UnitOfWork

KINDS = ("call", "find_address", "account_manager", "delivery_failed")
HANDED_OVER = frozenset({"account_manager", "internal_team"})


def open_task(uow: UnitOfWork, *, kind: str, debtor_id: int, invoice_id: int | None, message_key: str | None,
              reason: str, step: str = "", assignee: str = "", on: date | None = None, due_days: int = 0) -> int:
    """Open a task (or find the one already opened for `message_key`); its id. `on`: the day it is opened
    (default: today by the unit of work's clock); it is due `due_days` later."""
    if kind not in KINDS:
        raise ValueError(f"unknown task kind {kind!r}; one of {', '.join(KINDS)}")
    day = on or uow.clock.today()
    task_id, _ = uow.tasks.add_once(dict(kind=kind, debtor_id=debtor_id, invoice_id=invoice_id,
                                         message_key=message_key, step=step, assignee=assignee, reason=reason,
                                         created_on=day, due_on=day + timedelta(days=due_days), status="open",
                                         outcome="", note=""))
    return task_id


def task_kind(uow: UnitOfWork, message: dict[str, Any]) -> str:
    """What a person must do about this message."""
    if "find a contact" in str(message.get("routing") or ""):
        return "find_address"
    for version_id in uow.tasks.policy_versions_of(message["key"], None):
        policy = uow.versions.compiled(version_id).policy
        if policy.escalation is not None and policy.escalation.id == message["step"]:
            escalation: Escalation = policy.escalation
            if escalation.to in HANDED_OVER:
                return "account_manager"
    return "call"


class QueueChannel:
    """Turns each message into a task in the database, idempotent by message key."""

    def __init__(self, store: Store, due_days: int = 0) -> None:
        self.store, self.due_days = store, due_days

    def deliver(self, message: dict[str, Any]) -> str:
        with self.store.writing() as uow:
            numbers = list(message.get("invoice_numbers") or ())
            invoice_id = uow.tasks.invoice_id(numbers[0]) if numbers else None
            subject = str(message.get("subject") or "").strip()
            reason = str(message.get("routing") or "") or f"step {message['step']}"
            task_id = open_task(uow, kind=task_kind(uow, message), debtor_id=message["debtor_id"],
                                invoice_id=invoice_id, message_key=message["key"],
                                reason=f"{reason}: {subject}" if subject else reason, step=str(message["step"]),
                                assignee=str(message.get("recipient") or ""), on=message["created_on"],
                                due_days=self.due_days)
        return f"task:{task_id}"


def queue_channel(config: dict[str, Any], project: Any, store: Store) -> QueueChannel:
    """Registry factory for `type: queue` (`task: {type: queue, due_days: 2}`); needs the store it writes to."""
    return QueueChannel(store, int(config.get("due_days", 0)))
