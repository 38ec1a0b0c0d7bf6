"""Cases whose notice could not be made: recorded with their error, so one bad notice stops nobody else's.

A render error (a template typo that only one debtor's data triggers, a template file that leads outside the
project) leaves that case exactly as it was: still due, so the next run tries it again. The rest of the batch
goes on. The failure is kept, with when it first happened and how often, until a run gets the case through;
`status` shows it and `run` reports it with a non-zero exit code.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from dunflow.domain.case import CaseFacts
from dunflow.engine.advance import Outcome
from dunflow.errors import DunflowError
from dunflow.store.uow import UnitOfWork


@dataclass(frozen=True)
class Failure:
    """One case left behind today, and why."""

    facts: CaseFacts
    error: DunflowError

    def summary(self) -> dict[str, object]:
        return {"invoice": self.facts.number, "case": self.facts.case_id, "error": self.error.message,
                "hint": self.error.hint}


def record_failures(uow: UnitOfWork, failures: list[Failure], as_of: date) -> None:
    """Write (or count up) each failure; the case itself is not touched."""
    uow.cases.record_failures([dict(case_id=f.facts.case_id, debtor_id=f.facts.debtor_id,
                                    case_revision=f.facts.revision, error=f.error.message, hint=f.error.hint)
                               for f in failures], as_of)


def clear_failures(uow: UnitOfWork, case_ids: list[int]) -> None:
    """The cases a run got through are no longer failing."""
    uow.cases.clear_failures(case_ids)


def leave_failed_behind(uow: UnitOfWork, outcomes: list[Outcome], failed: Mapping[int, DunflowError],
                        as_of: date) -> tuple[list[Outcome], list[Failure]]:
    """Cases whose notice failed stay as they were (due, retried next run) and are recorded; the rest go on."""
    failures = [Failure(o.facts, failed[o.facts.case_id]) for o in outcomes if o.facts.case_id in failed]
    record_failures(uow, failures, as_of)
    kept = [o for o in outcomes if o.facts.case_id not in failed]
    clear_failures(uow, [o.facts.case_id for o in kept])
    return kept, failures


def failing_cases(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Failures that still hold: the case has not moved since (same revision)."""
    return [{"invoice": r.number, "debtor": r.code, "since": str(r.first_failed_on), "last": str(r.failed_on),
             "attempts": r.attempts, "error": r.error, "hint": r.hint} for r in uow.cases.failing()]
