"""The hand-over: an escalation `to: collection_agency` marks its invoice `in_collection` with the step's agency.

Done in the run's own transaction when the case moves to the escalation (whether or not the escalation also
writes to the debtor), once per invoice (the collection row is unique per invoice, and the escalated case is in
a final state, so dunning has stopped). The interest accrued up to the hand-over is booked as a line then, so
the case file shows the debt as handed over; `dunflow collection export` writes the files."""
from __future__ import annotations

from datetime import date

from dunflow.domain.policy import Escalation
from dunflow.engine.advance import Outcome
from dunflow.engine.charges import book_interest
from dunflow.store.uow import UnitOfWork

COLLECTION_AGENCY = "collection_agency"


def hand_over(uow: UnitOfWork, outcomes: list[Outcome], as_of: date) -> int:
    """Mark the invoices escalated to a collection agency; returns how many were handed over now."""
    handed = 0
    for outcome in outcomes:
        step = outcome.notice
        if not outcome.escalated or not isinstance(step, Escalation) or step.to != COLLECTION_AGENCY:
            continue
        agency = step.agency or COLLECTION_AGENCY
        if uow.debts.hand_over(outcome.facts.invoice_id, agency, as_of):
            book_interest(uow, outcome.facts.invoice_id, as_of, f"hand-over to {agency}")
            handed += 1
    return handed
