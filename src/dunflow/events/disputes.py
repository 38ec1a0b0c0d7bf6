"""Disputes: the debtor contests an invoice (not delivered, complaint, wrong invoice). Dunning pauses.

On resolution the invoice either resumes (the policy says whether the wait for
the next step restarts or the schedule continues as it was) or is cancelled.
"""
from __future__ import annotations

from datetime import date, timedelta

from dunflow.domain.policy import DISPUTED
from dunflow.domain.schedule import pay_by_passed, planned_date
from dunflow.errors import DunflowError
from dunflow.events.firing import CaseFacts, case_for_invoice, current_actor, fire
from dunflow.events.holds import active_hold, hold_case
from dunflow.policy.compile import CompiledPolicy
from dunflow.policy.versions import business_days
from dunflow.store.uow import UnitOfWork


def open_dispute(uow: UnitOfWork, number: str, reason: str, on: date, actor: str | None = None) -> str:
    case = case_for_invoice(uow, number)
    if not reason.strip():
        raise DunflowError("a dispute needs a reason", 'say why, e.g. --reason "goods not delivered"')
    state = fire(uow, case, "dispute", on=on, rule=f"dispute opened: {reason}", actor=actor,
                 next_action_at=None, reschedule=False)
    uow.pauses.open_dispute(case.invoice_id, reason, on, actor or current_actor())
    return state


def resolve_dispute(uow: UnitOfWork, number: str, resume: bool, on: date, note: str = "",
                    actor: str | None = None) -> str:
    case = case_for_invoice(uow, number)
    if case.state != DISPUTED:
        raise DunflowError(f"invoice {number} has no open dispute (state: {case.state})",
                           "open one with `dunflow dispute open`")
    uow.pauses.resolve_dispute(case.invoice_id, on, "resume" if resume else "cancel", note)
    if not resume:
        return fire(uow, case, "cancel", on=on, actor=actor,
                    rule=f"dispute resolved: invoice cancelled/credited{': ' + note if note else ''}")
    state = _resume(uow, case, on, note, actor)
    debtor_hold = active_hold(uow, case.debtor_id, on)
    if debtor_hold is not None:
        state = hold_case(uow, case.invoice_id, debtor_hold, on, actor)
    return state


def _resume(uow: UnitOfWork, case: CaseFacts, on: date, note: str, actor: str | None) -> str:
    compiled = uow.versions.compiled(case.policy_version_id)
    rule = compiled.policy.events.dispute.on_resolve
    why = f"dispute resolved, dunning resumes ({rule}){': ' + note if note else ''}"
    if rule == "continue":
        return fire(uow, case, "resolve", on=on, rule=why, actor=actor)
    target = case.resume_state or "new"
    nxt = _restarted(compiled, case, target, on)
    return fire(uow, case, "resolve", on=on, rule=f"{why}; next look {nxt}", actor=actor,
                next_action_at=nxt, reschedule=nxt is None)


def _restarted(compiled: CompiledPolicy, case: CaseFacts, state: str, on: date) -> date | None:
    """Restart the wait: the gap between the current step and the next one, counted from today."""
    policy, bday = compiled.policy, business_days(compiled.policy.settings.calendar)
    reached = compiled.reached_index(state)
    if reached + 1 >= len(policy.all_steps):
        return None
    start = case.last_step_on or case.due_date
    gap = (planned_date(policy, reached + 1, case.due_date, case.last_step_on, bday, issue_date=case.issue_date)
           - start).days
    deadline = pay_by_passed(policy, reached, case.last_step_on)  # a pause never shortens the time to pay
    return max(on + timedelta(days=max(gap, 1)), deadline or on)


def open_disputes(uow: UnitOfWork, invoice_id: int) -> list[dict[str, object]]:
    return uow.pauses.disputes(invoice_id)
