"""Debtor events between runs: fire a machine event on a case, with audit trail, in the caller's transaction.

Every command that changes a case (a payment, a dispute, a promise, a hold, an
arrangement) goes through `fire`: it locks the case row, steps the compiled
machine (so an event the policy does not allow is refused with a clear error),
records who/why/when in `actions`, and reschedules the case.
"""
from __future__ import annotations

import getpass
import os
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import Connection, func, insert, select, update

from dunflow.domain.policy import FINAL_STATES, NOT_DUNNED
from dunflow.engine.advance import CaseFacts, next_look
from dunflow.engine.cases import facts_of, locked_cases
from dunflow.engine.receipts import retract
from dunflow.errors import DunflowError, NotFound, unknown_invoice
from dunflow.policy.compile import CaseState, CompiledPolicy
from dunflow.policy.versions import CompiledVersions, business_days
from dunflow.store.orm import (
    Action,
    Case,
    Debtor,
    Invoice,
    OutboxMessage,
    Promise,
    table_of,
)

CASES, INVOICES, DEBTORS = table_of(Case), table_of(Invoice), table_of(Debtor)
ACTIONS, OUTBOX, PROMISES = table_of(Action), table_of(OutboxMessage), table_of(Promise)


def current_actor() -> str:
    """Who is acting, for the audit trail: DUNFLOW_ACTOR (set it in CI or a shared account), else the OS user."""
    if os.environ.get("DUNFLOW_ACTOR"):
        return os.environ["DUNFLOW_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def case_for_invoice(connection: Connection, number: str) -> CaseFacts:
    row = connection.execute(locked_cases().where(INVOICES.c.number == number)).first()
    if row is None:
        raise unknown_invoice(number)
    return facts_of(row)


def case_by_invoice_id(connection: Connection, invoice_id: int) -> CaseFacts:
    return facts_of(connection.execute(locked_cases().where(INVOICES.c.id == invoice_id)).one())


def cases_of_debtor(connection: Connection, code: str) -> tuple[int, list[CaseFacts]]:
    debtor_id = connection.execute(select(DEBTORS.c.id).where(DEBTORS.c.code == code)).scalar()
    if debtor_id is None:
        raise NotFound(f"unknown debtor '{code}'", "check the debtor code (`dunflow show debtor CODE`)")
    rows = connection.execute(locked_cases().where(CASES.c.debtor_id == debtor_id).order_by(CASES.c.id))
    return debtor_id, [facts_of(row) for row in rows]


def dunning_resumes_on(compiled: CompiledPolicy, case: CaseFacts, state: str, last_step_on: date | None,
                       on: date) -> date | None:
    """The next look for a case back in a dunning state: its next step's date (the runner catches up)."""
    return next_look(compiled, business_days(compiled.policy.settings.calendar), state, case.due_date, last_step_on, on)


def fire(connection: Connection, case: CaseFacts, event: str, *, on: date, rule: str, actor: str | None = None,
         next_action_at: date | None = None, reschedule: bool = True, last_step_on: date | None = None,
         kind: str = "") -> str:
    """Step the case through `event` and record it; returns the new state.

    With `reschedule`, a case back in a dunning state is looked at again on its next step's date, and a
    case in a pause or end state on `next_action_at`.
    """
    compiled = CompiledVersions(connection).get(case.policy_version_id)
    model = CaseState(case.state, case.resume_state)
    compiled.fire(event, model)
    kind = kind or event
    last = last_step_on if last_step_on is not None else case.last_step_on
    if reschedule and model.state in compiled.dunning_states:
        next_action_at = dunning_resumes_on(compiled, case, model.state, last, on)
    if model.state in FINAL_STATES:
        next_action_at = None
    _audit(connection, case, kind, model.state, rule, on, actor, key=event)
    moved = connection.execute(update(CASES).where(CASES.c.id == case.case_id, CASES.c.revision == case.revision)
                               .values(state=model.state, resume_state=model.resume_state, last_step_on=last,
                                       next_action_at=next_action_at, revision=case.revision + 1))
    if moved.rowcount != 1:
        raise DunflowError(f"invoice {case.number} changed while this command ran", "run the command again")
    if model.state in NOT_DUNNED:
        cancel_pending_messages(connection, case, f"{event}: {rule}", on)
    return model.state


def cancel_pending_messages(connection: Connection, case: CaseFacts, why: str, on: date) -> int:
    """Withdraw undelivered messages about this invoice: the debtor paid, disputed or agreed on something.

    A grouped notice is withdrawn only when none of its invoices is still being dunned; otherwise
    it would take the other invoices' notice with it. A withdrawn notice does not count as received
    (`receipts.retract`): a paused case resumes at the step the debtor last received.
    """
    pending = connection.execute(select(OUTBOX.c.id, OUTBOX.c.key, OUTBOX.c.invoice_numbers).where(
        OUTBOX.c.status == "pending", OUTBOX.c.debtor_id == case.debtor_id))
    withdrawn = [row for row in pending
                 if case.number in (row.invoice_numbers or []) and not _still_dunned(connection, row.invoice_numbers)]
    for row in withdrawn:
        connection.execute(update(OUTBOX).where(OUTBOX.c.id == row.id, OUTBOX.c.status == "pending")
                           .values(status="cancelled", last_error=f"withdrawn before delivery: {why}"))
        retract(connection, row.key, on, why)
    return len(withdrawn)


def _still_dunned(connection: Connection, numbers: list[str]) -> bool:
    states = connection.execute(select(CASES.c.state).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
                                .where(INVOICES.c.number.in_(numbers))).scalars()
    return any(state not in NOT_DUNNED for state in states)


def apply_amount(connection: Connection, invoice_id: int, amount: Decimal, *, on: date, why: str,
                 actor: str | None = None) -> Decimal:
    """Reduce an invoice's open amount by up to `amount`; pay or settle its case. Returns what was applied.

    Fully paid → `pay`; still open but below the policy's minimum → `settle`; the case's pending
    messages about the invoice are withdrawn in both cases.
    """
    case = case_by_invoice_id(connection, invoice_id)
    applied = min(amount, case.open_amount)
    if applied <= 0:
        return Decimal("0")
    remaining = case.open_amount - applied
    connection.execute(update(INVOICES).where(INVOICES.c.id == invoice_id).values(open_amount=remaining))
    from dunflow.events.arrangements import (
        record_payment,  # late: arrangements builds on this module
    )

    record_payment(connection, invoice_id, applied)
    if case.state in FINAL_STATES:
        return applied
    minimum = CompiledVersions(connection).get(case.policy_version_id).policy.settings.minimum_for(case.currency)
    detail = f"{why}: {applied} {case.currency} applied, {remaining} {case.currency} open"
    if remaining == 0:
        fire(connection, case, "pay", on=on, rule=detail, actor=actor, kind="payment")
        connection.execute(update(PROMISES).where(PROMISES.c.invoice_id == invoice_id, PROMISES.c.status == "open")
                           .values(status="kept"))
    elif remaining < minimum:
        fire(connection, case, "settle", on=on, actor=actor, kind="payment",
             rule=f"{detail}; below the policy minimum {minimum} {case.currency}: dunning stops")
    else:
        _record_partial(connection, case, on, detail, actor)
    return applied


def _record_partial(connection: Connection, case: CaseFacts, on: date, detail: str, actor: str | None) -> None:
    """A partial payment changes no state; it goes into the audit trail, and the next notice shows the rest."""
    count = connection.execute(select(func.count()).where(ACTIONS.c.case_id == case.case_id)).scalar_one()
    _audit(connection, case, "payment", case.state, detail, on, actor, key=str(count))


def _audit(connection: Connection, case: CaseFacts, kind: str, to_state: str, rule: str, on: date,
           actor: str | None, key: str) -> None:
    """One audit-trail entry for a command's effect on a case (who, why, when, under which policy version)."""
    connection.execute(insert(ACTIONS).values(
        case_id=case.case_id, kind=kind, step="", channel="", at=on, recorded_at=datetime.now(timezone.utc),
        policy_version_id=case.policy_version_id, from_state=case.state, to_state=to_state, rule=rule,
        status="done", actor=actor or current_actor(), message_key=None,
        idempotency_key=f"case:{case.case_id}:r{case.revision}:{kind}:{key}"))
