"""What the debtor actually received moves the ladder: a step counts once one of its messages was delivered.

The run queues a notice and moves the case to the notice's step at once (so the
audit trail says what was decided, and why), but the case remembers in
`delivered_state` the last step the debtor *received*, and `last_step_on` is the
day that notice was delivered. Three things follow, each in the caller's
transaction:

- `pending_cases`: a case whose notice is still waiting in the outbox is not
  moved on (no higher step joins an undelivered one);
- `record_delivery`: when `send` delivers a message, every case it moved now
  counts the step as reached, and the next step is timed from that delivery;
- `retract`: when a message is withdrawn and no other message of the same step
  reached the debtor or is still waiting, the step does not count: the case (or
  the state a paused case resumes to) goes back to the step last received, so a
  `required` step is queued again when dunning resumes.

The link from a message to the cases it moved is the audit trail: the queued
`actions` rows carry the message key and the state the case was moved to.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Connection, insert, select, update

from dunflow.domain.policy import PAUSE_STATES
from dunflow.domain.schedule import not_before_tomorrow
from dunflow.engine.advance import next_look
from dunflow.policy.versions import CompiledVersions
from dunflow.store.orm import Action, Case, Invoice, OutboxMessage, table_of

CASES, INVOICES, ACTIONS, OUTBOX = table_of(Case), table_of(Invoice), table_of(Action), table_of(OutboxMessage)


def pending_cases(connection: Connection, case_ids: Iterable[int]) -> set[int]:
    """The cases (of `case_ids`) with a message still waiting for delivery."""
    ids = list(case_ids)
    if not ids:
        return set()
    query = (select(ACTIONS.c.case_id).join(OUTBOX, OUTBOX.c.key == ACTIONS.c.message_key)
             .where(ACTIONS.c.case_id.in_(ids), OUTBOX.c.status == "pending").distinct())
    return set(connection.execute(query).scalars())


def _moved(connection: Connection, key: str) -> list[Any]:
    """(case, state it was moved to) for every case a message was queued for, with the case's current row."""
    query = (select(ACTIONS.c.to_state, CASES.c.id, CASES.c.state, CASES.c.resume_state, CASES.c.delivered_state,
                    CASES.c.last_step_on, CASES.c.revision, CASES.c.policy_version_id, INVOICES.c.due_date)
             .join(CASES, CASES.c.id == ACTIONS.c.case_id).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
             .where(ACTIONS.c.message_key == key, ACTIONS.c.status == "queued")
             .order_by(CASES.c.id, ACTIONS.c.id.desc()).with_for_update(of=CASES))
    latest: dict[int, Any] = {}
    for row in connection.execute(query):
        latest.setdefault(row.id, row)
    return [row for row in latest.values() if row.to_state not in PAUSE_STATES]


def record_delivery(connection: Connection, key: str, on: date) -> None:
    """The message `key` was delivered on `on`: its step is reached, and the next one is timed from `on`."""
    versions = CompiledVersions(connection)
    for row in _moved(connection, key):
        if row.delivered_state == row.to_state or row.to_state not in (row.state, row.resume_state):
            continue  # another channel of the same notice arrived first, or the case moved on
        values: dict[str, Any] = dict(delivered_state=row.to_state, last_step_on=on, revision=row.revision + 1)
        compiled = versions.get(row.policy_version_id)
        if row.state in compiled.dunning_states:
            values["next_action_at"] = not_before_tomorrow(next_look(
                compiled, versions.calendar(row.policy_version_id), row.state, row.due_date, on, on), on)
        connection.execute(update(CASES).where(CASES.c.id == row.id).values(**values))


def retract(connection: Connection, key: str, on: date, why: str) -> None:
    """The message `key` was withdrawn: where no other message of that step reached the debtor or still waits,
    the step does not count and the case goes back to the step last received."""
    versions = CompiledVersions(connection)
    for row in _moved(connection, key):
        compiled = versions.get(row.policy_version_id)
        if (row.to_state not in compiled.dunning_states or row.delivered_state == row.to_state
                or _other_message(connection, row.id, row.to_state, key)):
            continue
        values: dict[str, Any] = dict(revision=row.revision + 1)
        if row.state == row.to_state:
            values["state"] = row.delivered_state
            values["next_action_at"] = next_look(compiled, versions.calendar(row.policy_version_id),
                                                 row.delivered_state, row.due_date, row.last_step_on, on)
        elif row.resume_state == row.to_state:
            values["resume_state"] = row.delivered_state
        else:
            continue
        connection.execute(update(CASES).where(CASES.c.id == row.id).values(**values))
        _audit_withdrawal(connection, row, key, on, why)


def _other_message(connection: Connection, case_id: int, state: str, key: str) -> bool:
    """Did another message moving this case to `state` reach the debtor, or is one still waiting?"""
    query = (select(OUTBOX.c.id).join(ACTIONS, ACTIONS.c.message_key == OUTBOX.c.key)
             .where(ACTIONS.c.case_id == case_id, ACTIONS.c.to_state == state, ACTIONS.c.status == "queued",
                    OUTBOX.c.key != key, OUTBOX.c.status.in_(("pending", "sent"))).limit(1))
    return connection.execute(query).first() is not None


def _audit_withdrawal(connection: Connection, row: Any, key: str, on: date, why: str) -> None:
    back_to = row.delivered_state if row.delivered_state != "new" else "no step yet"
    connection.execute(insert(ACTIONS).values(
        case_id=row.id, kind="withdrawn", step=row.to_state, channel="", at=on, recorded_at=datetime.now(timezone.utc),
        policy_version_id=row.policy_version_id, from_state=row.to_state, to_state=row.delivered_state,
        rule=f"{row.to_state} was withdrawn before delivery ({why}): it does not count; back to {back_to}",
        status="done", actor="dunflow", message_key=key,
        idempotency_key=f"case:{row.id}:r{row.revision}:withdrawn:{key}"))
