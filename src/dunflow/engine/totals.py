"""What a debtor owes overdue, per currency: the figure a policy's `debtor_minimum` is compared with.

Summed in Python, not in SQL: on SQLite amounts are text, and SUM would go through a float.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, select

from dunflow.domain.policy import NOT_DUNNED
from dunflow.store.orm import Case, Invoice, table_of

CASES, INVOICES = table_of(Case), table_of(Invoice)


def overdue_totals(connection: Connection, debtor_ids: set[int], as_of: date) -> dict[tuple[int, str], Decimal]:
    """(debtor, currency) → open amount of the debtor's overdue invoices that are still dunned."""
    if not debtor_ids:
        return {}
    query = (select(CASES.c.debtor_id, INVOICES.c.currency, INVOICES.c.open_amount)
             .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
             .where(CASES.c.debtor_id.in_(sorted(debtor_ids)), INVOICES.c.due_date < as_of,
                    CASES.c.state.not_in(NOT_DUNNED)))
    totals: dict[tuple[int, str], Decimal] = {}
    for debtor_id, currency, open_amount in connection.execute(query):
        totals[(debtor_id, currency)] = totals.get((debtor_id, currency), Decimal(0)) + open_amount
    return totals
