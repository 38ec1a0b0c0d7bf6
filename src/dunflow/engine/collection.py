"""The hand-over: an escalation `to: collection_agency` marks its invoice `in_collection` with the step's agency.

Done in the run's own transaction when the case moves to the escalation (whether or not the escalation also
writes to the debtor), once per invoice (the collection row is unique per invoice, and the escalated case is in
a final state, so dunning has stopped). The interest accrued up to the hand-over is booked as a line then, so
the case file shows the debt as handed over; `dunflow collection export` writes the files."""
from __future__ import annotations

from datetime import date

from dunflow.domain.policy import Escalation
from dunflow.engine.advance import Outcome
from dunflow.engine.charges import book_interest_of
from dunflow.store.uow import UnitOfWork

COLLECTION_AGENCY = "collection_agency"


def hand_over(uow: UnitOfWork, outcomes: list[Outcome], as_of: date) -> int:
    """Mark the invoices escalated to a collection agency; returns how many were handed over now."""
    handed: dict[str, list[int]] = {}  # agency → invoices handed over now
    for outcome in outcomes:
        step = outcome.notice
        if not outcome.escalated or not isinstance(step, Escalation) or step.to != COLLECTION_AGENCY:
            continue
        agency = step.agency or COLLECTION_AGENCY
        if uow.debts.hand_over(outcome.facts.invoice_id, agency, as_of):
            handed.setdefault(agency, []).append(outcome.facts.invoice_id)
    for agency, invoice_ids in handed.items():
        book_interest_of(uow, invoice_ids, as_of, f"hand-over to {agency}")
    return sum(map(len, handed.values()))
