"""Reading a dunning case together with its invoice, locked for update: one query shape for the runner and
for event commands alike."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from dunflow.engine.advance import CaseFacts
from dunflow.store.orm import Case, Invoice, table_of

CASES, INVOICES = table_of(Case), table_of(Invoice)


def locked_cases() -> Select[Any]:
    """Cases joined with their invoices, columns named as `CaseFacts` fields, rows locked (FOR UPDATE)."""
    return (
        select(CASES.c.id.label("case_id"), CASES.c.invoice_id, CASES.c.debtor_id, CASES.c.policy_version_id,
               CASES.c.state, CASES.c.resume_state, CASES.c.last_step_on, CASES.c.revision, INVOICES.c.number,
               INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount, INVOICES.c.issue_date,
               INVOICES.c.due_date, CASES.c.next_action_at, CASES.c.delivered_state)
        .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
        .with_for_update(of=CASES)
    )


def facts_of(row: Any) -> CaseFacts:
    return CaseFacts(**row._mapping)
