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

from sqlalchemy import Connection, func, select, update

from dunflow.domain.policy import FINAL_STATES
from dunflow.events.firing import CaseFacts, audit, case_by_invoice_id, fire
from dunflow.policy.versions import CompiledVersions
from dunflow.store.orm import (
    Action,
    Arrangement,
    ArrangementInvoice,
    Installment,
    Invoice,
    Promise,
    table_of,
)

INVOICES, ACTIONS, PROMISES = table_of(Invoice), table_of(Action), table_of(Promise)
ARRANGEMENTS, LINKS, INSTALLMENTS = table_of(Arrangement), table_of(ArrangementInvoice), table_of(Installment)


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
    pay_installments(connection, invoice_id, applied)
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
    audit(connection, case, "payment", case.state, detail, on, actor, key=str(count))


def pay_installments(connection: Connection, invoice_id: int, amount: Decimal) -> None:
    """Pay the invoice's active arrangement's installments, oldest first; complete it when all is paid."""
    arrangement_id = connection.execute(
        select(LINKS.c.arrangement_id).join(ARRANGEMENTS, ARRANGEMENTS.c.id == LINKS.c.arrangement_id)
        .where(LINKS.c.invoice_id == invoice_id, ARRANGEMENTS.c.status == "active")).scalar()
    if arrangement_id is None:
        return
    left = amount
    rows = connection.execute(select(INSTALLMENTS).where(INSTALLMENTS.c.arrangement_id == arrangement_id)
                              .order_by(INSTALLMENTS.c.number)).all()
    for row in rows:
        if left <= 0:
            break
        if row.paid >= row.amount:
            continue
        share = min(left, row.amount - row.paid)
        left -= share
        paid = row.paid + share
        connection.execute(update(INSTALLMENTS).where(INSTALLMENTS.c.id == row.id).values(
            paid=paid, status="paid" if paid >= row.amount else row.status))
    _complete_if_paid(connection, arrangement_id)


def _complete_if_paid(connection: Connection, arrangement_id: int) -> None:
    open_amounts = connection.execute(select(INVOICES.c.open_amount).join(LINKS, LINKS.c.invoice_id == INVOICES.c.id)
                                      .where(LINKS.c.arrangement_id == arrangement_id)).scalars().all()
    if all(amount == 0 for amount in open_amounts):
        connection.execute(update(ARRANGEMENTS).where(ARRANGEMENTS.c.id == arrangement_id).values(status="completed"))
