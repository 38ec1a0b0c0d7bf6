"""A dunning case as the runner and the event commands read it: the case row joined with its invoice."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    invoice_id: int
    debtor_id: int
    policy_version_id: int
    state: str
    resume_state: str | None
    last_step_on: date | None
    revision: int
    number: str
    currency: str
    amount: Decimal
    open_amount: Decimal
    issue_date: date
    due_date: date
    next_action_at: date | None = None
    repeats: int = 0  # sendings of the current step after its first (a repeating step)
    delivered_state: str = "new"  # the last step whose notice the debtor received
    pending: bool = False  # a message about this case still waits for delivery
