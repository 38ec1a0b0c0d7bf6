"""The debt sub-ledger seen from the ledger: the statement of an invoice, and money allocated through the debt.

`statement` is the one set of figures `show invoice`, notices, reports and the collection export use: principal,
what is paid of it, the open principal, each charge (booked lines, and interest accrued to the as-of date), and
`total_due`. An invoice is paid only when its total due is 0.

`pay_debt` applies a payment (or credit note) to one invoice: first the interest accrued up to the payment's day
is booked (see `domain.debt` for why), then the money goes across the lines in the policy's allocation order
(default costs → interest → principal, §367 BGB, art. 6:44 BW); the principal part goes through
`allocation.apply_amount` as before. `give_back` undoes one payment's shares in reverse order.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from dunflow.domain.debt import allocate
from dunflow.domain.policy import FINAL_STATES
from dunflow.engine.charges import InvoiceDebt, book_interest, debts
from dunflow.events.firing import case_by_invoice_id, fire
from dunflow.ledger.allocation import _record_partial, apply_amount
from dunflow.store.uow import UnitOfWork


def _text(amount: Decimal, currency: str) -> str:
    from dunflow.domain.money import minor_digits

    return f"{amount:.{minor_digits(currency)}f}"


def statement(uow: UnitOfWork, invoice_id: int, as_of: date) -> dict[str, Any]:
    """Principal, paid, open_principal, each charge (kind, step, amount, paid, open, basis), total_due."""
    found = debts(uow, [invoice_id], as_of)[invoice_id]
    return statement_json(found, uow.debts.skips_of(found.case_id))


def statement_json(found: InvoiceDebt, skips: list[Any] | None = None) -> dict[str, Any]:
    debt = found.debt
    cur = debt.currency
    charges = [{"kind": line.kind, "step": line.step, "amount": _text(line.amount, cur),
                "paid": _text(line.paid, cur), "open": _text(line.open, cur), "booked": line.line_id is not None,
                "booked_on": line.booked_on.isoformat(), "basis": line.basis} for line in debt.lines]
    paid_charges = sum((line.paid for line in debt.lines), Decimal(0))
    return {
        "currency": cur,
        "principal": _text(debt.principal, cur),
        "paid": _text(debt.principal_paid, cur),
        "open_principal": _text(debt.open_principal, cur),
        "charges": charges,
        "charges_open": _text(debt.open_charges, cur),
        "paid_total": _text(debt.principal_paid + paid_charges, cur),
        "total_due": _text(debt.total_due, cur),
        "charges_not_booked": _not_booked(found, skips or []),
    }


def _not_booked(found: InvoiceDebt, skips: list[Any]) -> list[str]:
    """Why a charge is missing, each reason once: the interest refused as of now, then the skips the audit trail
    recorded (a skip saying what the current refusal says is that same reason, not a second one)."""
    reasons = [found.refusal] if found.refusal else []
    for row in skips:
        if found.refusal and found.refusal.startswith(row.rule):
            continue
        reason = f"{row.at.isoformat()} {row.step}: {row.rule}".replace(" : ", ": ")
        if reason not in reasons:
            reasons.append(reason)
    return reasons


def pay_debt(uow: UnitOfWork, invoice_id: int, amount: Decimal, *, on: date, why: str, actor: str | None,
             payment_id: int | None) -> Decimal:
    """Apply up to `amount` to the invoice's debt; returns what was used (at most the total due on `on`)."""
    found = book_interest(uow, invoice_id, on, why)
    if found is None:
        return apply_amount(uow, invoice_id, amount, on=on, why=why, actor=actor)
    policy = uow.versions.compiled(case_by_invoice_id(uow, invoice_id).policy_version_id).policy
    shares = allocate(found.debt, amount, policy.charges.allocation)
    to_lines = Decimal(0)
    principal = Decimal(0)
    for share in shares:
        if share.line_id is None:
            principal += share.amount
        else:
            uow.debts.pay_line(share.line_id, payment_id, share.amount, on)
            to_lines += share.amount
    charges_left = found.debt.open_charges - to_lines
    used = to_lines
    if principal > 0:
        used += apply_amount(uow, invoice_id, principal, on=on, why=why, actor=actor, charges_open=charges_left)
    if to_lines > 0:
        _charges_paid(uow, invoice_id, to_lines, charges_left, found, on, why, actor)
    return used


def _charges_paid(uow: UnitOfWork, invoice_id: int, paid: Decimal, left: Decimal, found: InvoiceDebt, on: date,
                  why: str, actor: str | None) -> None:
    case = case_by_invoice_id(uow, invoice_id)
    cur = found.debt.currency
    detail = f"{why}: {paid} {cur} to charges, {left} {cur} of charges open"
    if case.open_amount == 0 and left == 0 and case.state not in FINAL_STATES:
        fire(uow, case, "pay", on=on, rule=detail, actor=actor, kind="payment")
    else:
        _record_partial(uow, case, on, detail, actor)


def give_back(uow: UnitOfWork, payment_id: int, invoice_id: int, amount: Decimal, on: date) -> Decimal:
    """Re-open what `payment_id` gave the invoice's charge lines, last paid first; returns the principal part of
    `amount` (what it gave the principal), for the caller to re-open."""
    net: dict[int, Decimal] = {}
    order: list[int] = []
    for row in uow.debts.line_payments_of(payment_id, invoice_id):
        if row.line_id not in net:
            order.append(row.line_id)
        net[row.line_id] = net.get(row.line_id, Decimal(0)) + row.amount
    to_lines = Decimal(0)
    for line_id in reversed(order):
        if net[line_id] > 0:
            uow.debts.pay_line(line_id, payment_id, -net[line_id], on)
            to_lines += net[line_id]
    return amount - to_lines
