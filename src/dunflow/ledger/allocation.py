"""Applying money to an invoice: reduce its open amount, pay its installments, and pay or settle its case.

Payments, credit notes and hand-made allocations all come through `apply_amount`,
so a case is paid or settled, its promise kept, its arrangement's installments
paid and its pending notices withdrawn exactly as for any other debtor event
(through the event primitive `events.firing.fire`). It lives in the ledger, not
in the event primitive: events know nothing about money arriving.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from dunflow.domain.policy import FINAL_STATES
from dunflow.events.firing import CaseFacts, audit, case_by_invoice_id, fire
from dunflow.store.uow import UnitOfWork


def apply_amount(uow: UnitOfWork, invoice_id: int, amount: Decimal, *, on: date, why: str,
                 actor: str | None = None, charges_open: Decimal = Decimal(0)) -> Decimal:
    """Reduce an invoice's open (principal) amount by up to `amount`; pay or settle its case. Returns what was
    applied.

    Fully paid, with no charge of the debt left open (`charges_open`, see `ledger.debt`) → `pay`; still open but below the policy's minimum → `settle`; the case's pending
    messages about the invoice are withdrawn in both cases.
    """
    case = case_by_invoice_id(uow, invoice_id)
    applied = min(amount, case.open_amount)
    if applied <= 0:
        return Decimal("0")
    remaining = case.open_amount - applied
    uow.invoices.set_open_amount(invoice_id, remaining)
    pay_installments(uow, invoice_id, applied)
    if case.state in FINAL_STATES:
        return applied
    settings = uow.versions.compiled(case.policy_version_id).policy.settings
    minimum = settings.minimum_for(case.currency)
    detail = f"{why}: {applied} {case.currency} applied, {remaining} {case.currency} open"
    if remaining == 0 and charges_open > 0:
        _record_partial(uow, case, on, f"{detail}; {charges_open} {case.currency} of charges still open", actor)
    elif remaining == 0:
        fire(uow, case, "pay", on=on, rule=detail, actor=actor, kind="payment")
        uow.pauses.keep_promises(invoice_id)
    elif remaining < minimum and settings.debtor_minimum_for(case.currency) is None:  # else the runner weighs
        fire(uow, case, "settle", on=on, actor=actor, kind="payment",
             rule=f"{detail}; below the policy minimum {minimum} {case.currency}: dunning stops")
    else:
        _record_partial(uow, case, on, detail, actor)
    return applied


def _record_partial(uow: UnitOfWork, case: CaseFacts, on: date, detail: str, actor: str | None) -> None:
    """A partial payment changes no state; it goes into the audit trail, and the next notice shows the rest."""
    audit(uow, case, "payment", case.state, detail, on, actor, key=str(uow.cases.action_count(case.case_id)))


def pay_installments(uow: UnitOfWork, invoice_id: int, amount: Decimal) -> None:
    """Pay the invoice's active arrangement's installments, oldest first; complete it when all is paid."""
    active = uow.pauses.active_arrangements([invoice_id])
    if not active:
        return
    arrangement_id = active[0][1]
    left = amount
    for row in uow.pauses.installments(arrangement_id):
        if left <= 0:
            break
        if row.paid >= row.amount:
            continue
        share = min(left, row.amount - row.paid)
        left -= share
        paid = row.paid + share
        uow.pauses.pay_installment(row.id, paid, "paid" if paid >= row.amount else row.status)
    if all(row.open_amount == 0 for row in uow.pauses.invoices_of(arrangement_id)):
        uow.pauses.complete(arrangement_id)


def unpay_installments(uow: UnitOfWork, invoice_id: int, amount: Decimal) -> int | None:
    """Take `amount` back from the invoice's arrangement, newest paid installment first (a returned payment).

    What was paid is open again, and a plan that the payment had completed is active again, so the runner
    watches (and reminds) its installments as before instead of leaving the debtor's plan marked as done.
    Returns the arrangement's id, or None when the invoice is in none.
    """
    arrangement_id = uow.pauses.arrangement_paid_from(invoice_id)
    if arrangement_id is None:
        return None
    left = amount
    for row in reversed(uow.pauses.installments(arrangement_id)):
        if left <= 0:
            break
        share = min(left, row.paid)
        if share <= 0:
            continue
        left -= share
        uow.pauses.pay_installment(row.id, row.paid - share, "open" if row.status == "paid" else row.status)
    if uow.pauses.arrangement(arrangement_id).status == "completed":
        uow.pauses.reactivate(arrangement_id)
    return int(arrangement_id)

