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

from datetime import date
from typing import Any, Iterable

from dunflow.domain.debt import charges_anything
from dunflow.domain.policy import PAUSE_STATES
from dunflow.domain.schedule import not_before_tomorrow
from dunflow.engine.charges import book_delivered, with_values
from dunflow.engine.advance import next_look
from dunflow.store.uow import UnitOfWork


def pending_cases(uow: UnitOfWork, case_ids: Iterable[int]) -> set[int]:
    """The cases (of `case_ids`) with a message still waiting for delivery."""
    return uow.cases.with_pending_message(list(case_ids))


def _moved(uow: UnitOfWork, key: str, rows: list[Any] | None = None) -> list[Any]:
    """(case, state it was moved to) for every case a message was queued for, with the case's current row
    (`rows`: already read for this key by `record_deliveries`)."""
    latest: dict[int, Any] = {}
    for row in uow.cases.moved_by_message(key) if rows is None else rows:
        latest.setdefault(row.id, row)
    return [row for row in latest.values() if row.to_state not in PAUSE_STATES]


def record_deliveries(uow: UnitOfWork, deliveries: list[tuple[str, date, date | None]]) -> None:
    """`record_delivery` for a batch of (key, on, queued_on), in order, with the cases and the invoices' facts read
    in one query each. A case that several messages of the batch moved (a notice's e-mail and letter) is seen by
    the later ones as the earlier ones left it (`changed`: what this batch wrote to each case), so the result is
    the one-by-one result."""
    read = uow.cases.moved_by_messages([key for key, _, _ in deliveries])
    facts = uow.debts.facts({row.invoice_id for rows in read.values() for row in rows
                             if charges_anything(uow.versions.compiled(row.policy_version_id).policy)})
    changed: dict[int, dict[str, Any]] = {}
    for key, on, queued_on in deliveries:
        rows = [_as_changed(row, changed) for row in read.get(key, [])]
        _record(uow, _moved(uow, key, rows), on, queued_on, changed, facts)


def _as_changed(row: Any, changed: dict[int, dict[str, Any]]) -> Any:
    """The row with the case's columns as an earlier delivery of the batch left them."""
    return with_values(row, changed[row.id]) if row.id in changed else row


def record_delivery(uow: UnitOfWork, key: str, on: date, queued_on: date | None = None) -> None:
    """The message `key` (queued on `queued_on`) was delivered on `on`: its step is reached, and the next one is
    timed from `on`. The step's charges (fee, compensation, collection costs) are booked for every invoice the
    message was about (`engine.charges`, exactly once per charge)."""
    _record(uow, _moved(uow, key), on, queued_on, {}, None)


def _record(uow: UnitOfWork, moved: list[Any], on: date, queued_on: date | None,
            changed: dict[int, dict[str, Any]], facts: dict[int, Any] | None) -> None:
    book_delivered(uow, moved, on, facts)
    for row in moved:
        if row.to_state not in (row.state, row.resume_state):
            continue  # the case moved on
        if row.delivered_state == row.to_state and (
                queued_on is None or row.last_step_on is None or row.last_step_on >= queued_on):
            continue  # another channel of the same notice arrived first (a repeat of the step still counts)
        values: dict[str, Any] = dict(delivered_state=row.to_state, last_step_on=on)
        compiled = uow.versions.compiled(row.policy_version_id)
        if row.state in compiled.dunning_states:
            values["next_action_at"] = not_before_tomorrow(next_look(
                compiled, uow.versions.calendar(row.policy_version_id), row.state, row.due_date, on, on,
                issue_date=row.issue_date, repeats=row.repeats), on)
        uow.cases.update_case(row.id, row.revision, values)
        changed[row.id] = {**changed.get(row.id, {}), **values, "revision": row.revision + 1}


def retract(uow: UnitOfWork, key: str, on: date, why: str) -> None:
    """The message `key` was withdrawn: where no other message of that step reached the debtor or still waits,
    the step does not count and the case goes back to the step last received."""
    for row in _moved(uow, key):
        compiled = uow.versions.compiled(row.policy_version_id)
        if (row.to_state not in compiled.dunning_states or row.delivered_state == row.to_state
                or uow.cases.other_message_moved(row.id, row.to_state, key)):
            continue
        values: dict[str, Any] = {}
        if row.state == row.to_state:
            values["state"] = row.delivered_state
            values["next_action_at"] = next_look(compiled, uow.versions.calendar(row.policy_version_id),
                                                 row.delivered_state, row.due_date, row.last_step_on, on,
                                                 issue_date=row.issue_date)
        elif row.resume_state == row.to_state:
            values["resume_state"] = row.delivered_state
        else:
            continue
        uow.cases.update_case(row.id, row.revision, values)
        _audit_withdrawal(uow, row, key, on, why)


def _audit_withdrawal(uow: UnitOfWork, row: Any, key: str, on: date, why: str) -> None:
    back_to = row.delivered_state if row.delivered_state != "new" else "no step yet"
    uow.cases.record([dict(
        case_id=row.id, kind="withdrawn", step=row.to_state, channel="", at=on, recorded_at=uow.clock.now(),
        policy_version_id=row.policy_version_id, from_state=row.to_state, to_state=row.delivered_state,
        rule=f"{row.to_state} was withdrawn before delivery ({why}): it does not count; back to {back_to}",
        status="done", actor="dunflow", message_key=key,
        idempotency_key=f"case:{row.id}:r{row.revision}:withdrawn:{key}")])
