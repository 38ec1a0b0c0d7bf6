"""Dunning cases, their audit trail and the run log: the SQL the runner and the event commands share.

A case is always read together with its invoice, as `CaseFacts`, and locked for update
(FOR UPDATE on PostgreSQL; on SQLite the writing transaction already holds the lock).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)

from dunflow.domain.case import CaseFacts
from dunflow.store.orm import Action, Case, Invoice, Run, table_of

CASES, INVOICES, ACTIONS, RUNS = table_of(Case), table_of(Invoice), table_of(Action), table_of(Run)


def _locked() -> Select[Any]:
    """Cases joined with their invoices, columns named as `CaseFacts` fields, rows locked (FOR UPDATE)."""
    return (
        select(CASES.c.id.label("case_id"), CASES.c.invoice_id, CASES.c.debtor_id, CASES.c.policy_version_id,
               CASES.c.state, CASES.c.resume_state, CASES.c.last_step_on, CASES.c.revision, INVOICES.c.number,
               INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount, INVOICES.c.issue_date,
               INVOICES.c.due_date, CASES.c.next_action_at)
        .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
        .with_for_update(of=CASES)
    )


def _facts(row: Any) -> CaseFacts:
    return CaseFacts(**row._mapping)


class CaseRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- reading cases under lock ---------------------------------------------------------------

    def by_invoice_number(self, number: str) -> CaseFacts | None:
        row = self.connection.execute(_locked().where(INVOICES.c.number == number)).first()
        return None if row is None else _facts(row)

    def by_invoice_id(self, invoice_id: int) -> CaseFacts:
        return _facts(self.connection.execute(_locked().where(INVOICES.c.id == invoice_id)).one())

    def of_debtor(self, debtor_id: int) -> list[CaseFacts]:
        rows = self.connection.execute(_locked().where(CASES.c.debtor_id == debtor_id).order_by(CASES.c.id))
        return [_facts(row) for row in rows]

    def due_keys(self, as_of: date) -> list[tuple[int, int]]:
        """(debtor, case) of every due case through the `next_action_at` index, a debtor's cases together."""
        query = (select(CASES.c.debtor_id, CASES.c.id).where(CASES.c.next_action_at <= as_of)
                 .order_by(CASES.c.debtor_id, CASES.c.id))
        return [(row[0], row[1]) for row in self.connection.execute(query)]

    def claim(self, case_ids: list[int], as_of: date) -> list[CaseFacts]:
        """These cases, locked, if they are still due (another worker may have advanced them)."""
        query = (_locked().where(CASES.c.id.in_(case_ids), CASES.c.next_action_at <= as_of)
                 .order_by(CASES.c.debtor_id, CASES.c.id))
        return [_facts(row) for row in self.connection.execute(query)]

    def lock_debtors(self, debtor_ids: list[int], wait: bool) -> list[int]:
        """PostgreSQL: the debtors this transaction holds (advisory locks keyed by schema and debtor).

        Without `wait` a debtor another worker holds is skipped (it is working on it); with `wait` we queue
        behind it and then find its cases no longer due. SQLite needs none of this: the writing transaction
        (BEGIN IMMEDIATE) already serialises the writers.
        """
        if self.connection.dialect.name != "postgresql":
            return debtor_ids
        if wait:
            self.connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), d) "
                                         "FROM unnest(CAST(:ids AS integer[])) AS d ORDER BY d"), {"ids": debtor_ids})
            return debtor_ids
        rows = self.connection.execute(text("SELECT d FROM unnest(CAST(:ids AS integer[])) AS d "
                                            "WHERE pg_try_advisory_xact_lock(hashtext(current_schema()), d)"),
                                       {"ids": debtor_ids})
        return [row[0] for row in rows]

    # --- writing cases --------------------------------------------------------------------------

    def advance(self, changes: list[dict[str, Any]]) -> int:
        """One batched update for a run's outcomes, each only if its revision is unchanged; rows updated.

        Each change: case_id, old_revision, new_state, new_resume, new_last, new_next.
        """
        if not changes:
            return 0
        statement = (
            update(CASES)
            .where(and_(CASES.c.id == bindparam("case_id"), CASES.c.revision == bindparam("old_revision")))
            .values(state=bindparam("new_state"), resume_state=bindparam("new_resume"),
                    last_step_on=bindparam("new_last"), next_action_at=bindparam("new_next"),
                    revision=CASES.c.revision + 1)
        )
        return int(self.connection.execute(statement, changes).rowcount)

    def move(self, case: CaseFacts, state: str, resume_state: str | None, last_step_on: date | None,
             next_action_at: date | None) -> bool:
        """Set one case's state if nobody changed it since it was read; False if somebody did."""
        moved = self.connection.execute(
            update(CASES).where(CASES.c.id == case.case_id, CASES.c.revision == case.revision)
            .values(state=state, resume_state=resume_state, last_step_on=last_step_on, next_action_at=next_action_at,
                    revision=case.revision + 1))
        return bool(moved.rowcount == 1)

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(CASES), rows)

    # --- other cases' states ----------------------------------------------------------------------

    def states_of(self, numbers: list[str]) -> list[str]:
        """The case states of these invoices."""
        return list(self.connection.execute(
            select(CASES.c.state).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
            .where(INVOICES.c.number.in_(numbers))).scalars())

    def overdue_of_debtors(self, debtor_ids: set[int], as_of: date, excluded_states: frozenset[str]) -> list[Any]:
        """The debtors' invoices overdue on `as_of` whose cases are not in `excluded_states` (grouped notices)."""
        query = (
            select(CASES.c.id, CASES.c.state, CASES.c.debtor_id, CASES.c.policy_version_id, INVOICES.c.number,
                   INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount, INVOICES.c.issue_date,
                   INVOICES.c.due_date)
            .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
            .where(CASES.c.debtor_id.in_(debtor_ids), INVOICES.c.due_date < as_of,
                   CASES.c.state.not_in(excluded_states))
        )
        return list(self.connection.execute(query))

    # --- audit trail and run log ------------------------------------------------------------------

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Audit-trail entries (`actions`), in one statement."""
        if rows:
            self.connection.execute(insert(ACTIONS), rows)

    def last_from_state(self, case_id: int, state: str) -> str | None:
        """The state the case last left for `state` (from its audit trail), if any."""
        found: str | None = self.connection.execute(
            select(ACTIONS.c.from_state).where(ACTIONS.c.case_id == case_id, ACTIONS.c.to_state == state)
            .order_by(ACTIONS.c.id.desc()).limit(1)).scalar()
        return found

    def action_count(self, case_id: int) -> int:
        return int(self.connection.execute(select(func.count()).where(ACTIONS.c.case_id == case_id)).scalar_one())

    def last_run_on(self) -> date | None:
        last: date | None = self.connection.execute(
            select(func.max(RUNS.c.as_of)).where(RUNS.c.status == "done")).scalar()
        return last

    def record_run(self, as_of: date, started_at: datetime, finished_at: datetime, advanced: int,
                   messages: int) -> None:
        self.connection.execute(insert(RUNS).values(as_of=as_of, started_at=started_at, finished_at=finished_at,
                                                    status="done", cases_advanced=advanced, messages=messages))
