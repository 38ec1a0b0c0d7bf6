"""Cases whose notice could not be made: recorded with their error, so one bad notice stops nobody else's.

A render error (a template typo that only one debtor's data triggers, a template file that leads outside the
project) leaves that case exactly as it was: still due, so the next run tries it again. The rest of the batch
goes on. The failure is kept, with when it first happened and how often, until a run gets the case through;
`status` shows it and `run` reports it with a non-zero exit code.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from dunflow.engine.advance import CaseFacts
from dunflow.errors import DunflowError
from dunflow.store.orm import Case, CaseFailure, Debtor, Invoice, table_of

FAILURES, CASES, INVOICES, DEBTORS = table_of(CaseFailure), table_of(Case), table_of(Invoice), table_of(Debtor)


@dataclass(frozen=True)
class Failure:
    """One case left behind today, and why."""

    facts: CaseFacts
    error: DunflowError

    def summary(self) -> dict[str, object]:
        return {"invoice": self.facts.number, "case": self.facts.case_id, "error": self.error.message,
                "hint": self.error.hint}


def record_failures(connection: Connection, failures: list[Failure], as_of: date) -> None:
    """Write (or count up) each failure; the case itself is not touched."""
    if not failures:
        return
    ids = [f.facts.case_id for f in failures]
    known = {row.case_id: row for row in connection.execute(select(FAILURES).where(FAILURES.c.case_id.in_(ids)))}
    for failure in failures:
        facts, values = failure.facts, dict(case_revision=failure.facts.revision, failed_on=as_of,
                                            error=failure.error.message, hint=failure.error.hint)
        previous = known.get(facts.case_id)
        if previous is None:
            connection.execute(insert(FAILURES).values(case_id=facts.case_id, debtor_id=facts.debtor_id,
                                                       first_failed_on=as_of, attempts=1, **values))
        else:
            connection.execute(update(FAILURES).where(FAILURES.c.case_id == facts.case_id)
                               .values(attempts=previous.attempts + 1, **values))


def clear_failures(connection: Connection, case_ids: list[int]) -> None:
    """The cases a run got through are no longer failing."""
    if case_ids:
        connection.execute(delete(FAILURES).where(FAILURES.c.case_id.in_(case_ids)))


def failing_cases(connection: Connection) -> list[dict[str, Any]]:
    """Failures that still hold: the case has not moved since (same revision)."""
    query = (select(INVOICES.c.number, DEBTORS.c.code, FAILURES.c.first_failed_on, FAILURES.c.failed_on,
                    FAILURES.c.attempts, FAILURES.c.error, FAILURES.c.hint)
             .join(CASES, CASES.c.id == FAILURES.c.case_id)
             .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
             .join(DEBTORS, DEBTORS.c.id == FAILURES.c.debtor_id)
             .where(CASES.c.revision == FAILURES.c.case_revision)
             .order_by(DEBTORS.c.code, INVOICES.c.number))
    return [{"invoice": r.number, "debtor": r.code, "since": str(r.first_failed_on), "last": str(r.failed_on),
             "attempts": r.attempts, "error": r.error, "hint": r.hint} for r in connection.execute(query)]
