"""Promises to pay: no notices until the promised date plus the policy's grace period.

On that date the runner checks the promise: paid in full → the invoice is already
`paid`; the promised amount arrived → kept, dunning resumes for any rest; else
broken → the step the policy names (or back where it was).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dunflow.engine.advance import Outcome, transition
from dunflow.errors import DunflowError
from dunflow.events.firing import case_for_invoice, current_actor, fire
from dunflow.policy.compile import CaseState, CompiledPolicy
from dunflow.store.uow import UnitOfWork


@dataclass(frozen=True)
class PromiseFacts:
    promise_id: int
    pay_by: date
    amount: Decimal | None
    paid_since: Decimal


def make_promise(uow: UnitOfWork, number: str, pay_by: date, amount: Decimal | None, on: date,
                 actor: str | None = None) -> date:
    """Record the promise; returns the day the runner will check it."""
    case = case_for_invoice(uow, number)
    if pay_by < on:
        raise DunflowError(f"promised date {pay_by} is in the past", "a promise names a future date")
    if amount is not None and (amount <= 0 or amount > case.open_amount):
        raise DunflowError(f"promised amount {amount} must be between 0 and the open amount {case.open_amount}",
                           "omit --amount to promise the whole open amount")
    policy = uow.versions.compiled(case.policy_version_id).policy
    check_on = pay_by + timedelta(days=policy.events.promise.grace_days)
    what = f"{amount} {case.currency}" if amount is not None else "the open amount"
    fire(uow, case, "promise", on=on, actor=actor, next_action_at=check_on, reschedule=False,
         rule=f"promise to pay {what} by {pay_by}; checked on {check_on} "
              f"({policy.events.promise.grace_days} days' grace)")
    uow.pauses.add_promise(case.invoice_id, pay_by, amount, on, actor or current_actor())
    return check_on


def promise_facts(uow: UnitOfWork, invoice_ids: list[int]) -> dict[int, PromiseFacts]:
    """Open promises of these invoices, with what was paid since each was made (invoice id → facts)."""
    promises = uow.pauses.open_promises(invoice_ids)
    if not promises:
        return {}
    paid = uow.payments.allocations_since([p.invoice_id for p in promises], min(p.made_on for p in promises))
    return {p.invoice_id: PromiseFacts(p.id, p.pay_by, p.amount,
                                       sum((a.amount for a in paid if a.invoice_id == p.invoice_id
                                            and a.on >= p.made_on), Decimal("0")))
            for p in promises}


def promise_timer(compiled: CompiledPolicy, case: CaseState, outcome: Outcome, as_of: date,
                  facts: PromiseFacts | None) -> None:
    """On the check date: kept (the promised amount arrived) or broken."""
    if facts is None:
        transition(compiled, case, outcome, "keep_promise", "promise record missing: dunning resumes")
        return
    if facts.amount is not None and facts.paid_since >= facts.amount:
        transition(compiled, case, outcome, "keep_promise",
                   f"promise kept: {facts.paid_since} paid since the promise; dunning resumes for the rest")
        outcome.effects.append(("promises", facts.promise_id, {"status": "kept"}))
        return
    transition(compiled, case, outcome, "break_promise",
               f"promise to pay by {facts.pay_by} broken: {outcome.facts.open_amount} {outcome.facts.currency} "
               f"still open after {compiled.policy.events.promise.grace_days} days' grace")
    outcome.effects.append(("promises", facts.promise_id, {"status": "broken"}))


