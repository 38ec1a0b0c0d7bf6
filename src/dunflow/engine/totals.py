"""What a debtor owes overdue, per currency: the figure a policy's `debtor_minimum` is compared with.

Summed in Python, not in SQL: on SQLite amounts are text, and SUM would go through a float.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from dunflow.domain.policy import NOT_DUNNED
from dunflow.store.uow import UnitOfWork


def overdue_totals(uow: UnitOfWork, debtor_ids: set[int], as_of: date) -> dict[tuple[int, str], Decimal]:
    """(debtor, currency) → open amount of the debtor's overdue invoices that are still dunned."""
    totals: dict[tuple[int, str], Decimal] = {}
    for debtor_id, currency, open_amount in uow.cases.overdue_amounts(debtor_ids, as_of, NOT_DUNNED):
        totals[(debtor_id, currency)] = totals.get((debtor_id, currency), Decimal(0)) + open_amount
    return totals
