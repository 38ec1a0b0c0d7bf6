"""Debtor events between runs: fire a machine event on a case, with audit trail, in the caller's unit of work.

Every command that changes a case (a payment, a dispute, a promise, a hold, an
arrangement) goes through `fire`: it locks the case row, steps the compiled
machine (so an event the policy does not allow is refused with a clear error),
records who/why/when in the audit trail, and reschedules the case. "When" is
the command's date (`on`) and the unit of work's clock (`recorded_at`).
"""
from __future__ import annotations

import getpass
import os
from datetime import date

from dunflow.domain.case import CaseFacts
from dunflow.domain.policy import FINAL_STATES, NOT_DUNNED
from dunflow.engine.advance import next_look
from dunflow.engine.receipts import retract
from dunflow.errors import DunflowError, NotFound, unknown_invoice
from dunflow.policy.compile import CaseState, CompiledPolicy
from dunflow.policy.versions import business_days
from dunflow.store.uow import UnitOfWork

__all__ = ["CaseFacts", "audit", "case_by_invoice_id", "case_for_invoice", "cases_of_debtor", "current_actor",
           "fire", "withdraw_pending_messages"]


def current_actor() -> str:
    """Who is acting, for the audit trail: DUNFLOW_ACTOR (set it in CI or a shared account), else the OS user."""
    if os.environ.get("DUNFLOW_ACTOR"):
        return os.environ["DUNFLOW_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def case_for_invoice(uow: UnitOfWork, number: str) -> CaseFacts:
    case = uow.cases.by_invoice_number(number)
    if case is None:
        raise unknown_invoice(number)
    return case


def case_by_invoice_id(uow: UnitOfWork, invoice_id: int) -> CaseFacts:
    return uow.cases.by_invoice_id(invoice_id)


def cases_of_debtor(uow: UnitOfWork, code: str) -> tuple[int, list[CaseFacts]]:
    debtor_id = uow.invoices.debtor_id(code)
    if debtor_id is None:
        raise NotFound(f"unknown debtor '{code}'", "check the debtor code (`dunflow show debtor CODE`)")
    return debtor_id, uow.cases.of_debtor(debtor_id)


def dunning_resumes_on(compiled: CompiledPolicy, case: CaseFacts, state: str, last_step_on: date | None,
                       on: date) -> date | None:
    """The next look for a case back in a dunning state: its next step's date (the runner catches up)."""
    return next_look(compiled, business_days(compiled.policy.settings.calendar), state, case.due_date, last_step_on, on,
                     issue_date=case.issue_date, repeats=case.repeats)


def fire(uow: UnitOfWork, case: CaseFacts, event: str, *, on: date, rule: str, actor: str | None = None,
         next_action_at: date | None = None, reschedule: bool = True, last_step_on: date | None = None,
         kind: str = "") -> str:
    """Step the case through `event` and record it; returns the new state.

    With `reschedule`, a case back in a dunning state is looked at again on its next step's date, and a
    case in a pause or end state on `next_action_at`.
    """
    compiled = uow.versions.compiled(case.policy_version_id)
    model = CaseState(case.state, case.resume_state)
    compiled.fire(event, model)
    kind = kind or event
    last = last_step_on if last_step_on is not None else case.last_step_on
    if reschedule and model.state in compiled.dunning_states:
        next_action_at = dunning_resumes_on(compiled, case, model.state, last, on)
    if model.state in FINAL_STATES:
        next_action_at = None
    audit(uow, case, kind, model.state, rule, on, actor, key=event)
    if not uow.cases.move(case, model.state, model.resume_state, last, next_action_at):
        raise DunflowError(f"invoice {case.number} changed while this command ran", "run the command again")
    if model.state in NOT_DUNNED:
        withdraw_pending_messages(uow, case, f"{event}: {rule}", on)
    return model.state


def withdraw_pending_messages(uow: UnitOfWork, case: CaseFacts, why: str, on: date) -> int:
    """Withdraw undelivered messages about this invoice: the debtor paid, disputed or agreed on something.

    A grouped notice is withdrawn only when none of its invoices is still being dunned; otherwise
    it would take the other invoices' notice with it. A withdrawn notice does not count as received
    (`receipts.retract`): a paused case resumes at the step the debtor last received.
    """
    withdrawn = [row for row in uow.outbox.pending_of_debtor(case.debtor_id)
                 if case.number in (row.invoice_numbers or []) and not _still_dunned(uow, row.invoice_numbers)]
    for row in withdrawn:
        uow.outbox.withdraw([row.id], f"withdrawn before delivery: {why}")
        retract(uow, row.key, on, why)
    return len(withdrawn)


def _still_dunned(uow: UnitOfWork, numbers: list[str]) -> bool:
    return any(state not in NOT_DUNNED for state in uow.cases.states_of(numbers))


def audit(uow: UnitOfWork, case: CaseFacts, kind: str, to_state: str, rule: str, on: date, actor: str | None,
          key: str) -> None:
    """One audit-trail entry for a command's effect on a case (who, why, when, under which policy version)."""
    uow.cases.record([dict(
        case_id=case.case_id, kind=kind, step="", channel="", at=on, recorded_at=uow.clock.now(),
        policy_version_id=case.policy_version_id, from_state=case.state, to_state=to_state, rule=rule,
        status="done", actor=actor or current_actor(), message_key=None,
        idempotency_key=f"case:{case.case_id}:r{case.revision}:{kind}:{key}")])
