"""Dunning cases, their audit trail and the run log: the SQL the runner and the event commands share.

A case is always read together with its invoice, as `CaseFacts`, and locked for update
(FOR UPDATE on PostgreSQL; on SQLite the writing transaction already holds the lock).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    any_,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from dunflow.domain.case import CaseFacts
from dunflow.store.orm import (
    Action,
    Case,
    CaseFailure,
    Debtor,
    Invoice,
    OutboxMessage,
    PolicyVersion,
    Run,
    table_of,
)
from dunflow.store.rows import insert_rows, update_rows

CASES, INVOICES, ACTIONS, RUNS = table_of(Case), table_of(Invoice), table_of(Action), table_of(Run)
FAILURES, DEBTORS = table_of(CaseFailure), table_of(Debtor)
OUTBOX, VERSIONS = table_of(OutboxMessage), table_of(PolicyVersion)
WAITING = ("pending", "claimed", "retry")  # as store/outbox.py: a message not delivered yet, still on its way


def _locked() -> Select[Any]:
    """Cases joined with their invoices, columns named as `CaseFacts` fields, rows locked (FOR UPDATE)."""
    return (
        select(CASES.c.id.label("case_id"), CASES.c.invoice_id, CASES.c.debtor_id, CASES.c.policy_version_id,
               CASES.c.state, CASES.c.resume_state, CASES.c.last_step_on, CASES.c.revision, INVOICES.c.number,
               INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount, INVOICES.c.issue_date,
               INVOICES.c.due_date, CASES.c.next_action_at, CASES.c.repeats, CASES.c.delivered_state)
        .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
        .with_for_update(of=CASES)
    )


def _facts(row: Any) -> CaseFacts:
    return CaseFacts(**row._mapping)


# Statements run once per message or case (delivery, withdrawal) are built once: a statement object reused keeps
# its cache key, so SQLAlchemy neither builds nor compiles it again per row (the send path's main cost before).
_MOVED_BY_MESSAGE = (
    select(ACTIONS.c.to_state, CASES.c.id, CASES.c.state, CASES.c.resume_state, CASES.c.delivered_state,
           CASES.c.last_step_on, CASES.c.revision, CASES.c.repeats, CASES.c.policy_version_id,
           INVOICES.c.due_date, INVOICES.c.issue_date, INVOICES.c.id.label("invoice_id"))
    .join(CASES, CASES.c.id == ACTIONS.c.case_id).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
    .where(ACTIONS.c.message_key == bindparam("key"), ACTIONS.c.status == "queued")
    .order_by(CASES.c.id, ACTIONS.c.id.desc()).with_for_update(of=CASES))
_OTHER_MESSAGE_MOVED = (
    select(OUTBOX.c.id).join(ACTIONS, ACTIONS.c.message_key == OUTBOX.c.key)
    .where(ACTIONS.c.case_id == bindparam("case_id"), ACTIONS.c.to_state == bindparam("state"),
           ACTIONS.c.status == "queued", OUTBOX.c.key != bindparam("key"),
           OUTBOX.c.status.in_((*WAITING, "sent"))).limit(1))
_DUE_NUMBERS = (
    select(INVOICES.c.number).join(CASES, CASES.c.invoice_id == INVOICES.c.id)
    .join(ACTIONS, ACTIONS.c.case_id == CASES.c.id)
    .where(ACTIONS.c.message_key == bindparam("key"), ACTIONS.c.status == "queued", ACTIONS.c.kind != "lifted"))
_MOVED_BY_MESSAGES, _MOVED_BY_MESSAGES_PG = (
    select(ACTIONS.c.message_key, *_MOVED_BY_MESSAGE.selected_columns)
    .join(CASES, CASES.c.id == ACTIONS.c.case_id).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
    .where(among, ACTIONS.c.status == "queued")
    .order_by(CASES.c.id, ACTIONS.c.id.desc()).with_for_update(of=CASES)
    for among in (ACTIONS.c.message_key.in_(bindparam("keys", expanding=True)),  # SQLite
                  ACTIONS.c.message_key == any_(bindparam("keys", type_=ARRAY(String)))))  # PostgreSQL: one array
_BY_INVOICE_ID = _locked().where(INVOICES.c.id == bindparam("invoice_id"))  # per payment, per event
_BY_INVOICE_NUMBER = _locked().where(INVOICES.c.number == bindparam("number"))
# SET takes the columns given at execution (revision and the changed ones)
_UPDATE_CASE = update(CASES).where(CASES.c.id == bindparam("case_id_"))


class CaseRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    def _among(self, column: Any, ids: list[int]) -> Any:
        """`column IN (ids)`; on PostgreSQL `= ANY(array)`: one parameter, not a thousand for the driver to
        bind and the server to parse per batch."""
        if self.postgres:
            return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
        return column.in_(ids)

    # --- reading cases under lock ---------------------------------------------------------------

    def by_invoice_number(self, number: str) -> CaseFacts | None:
        row = self.connection.execute(_BY_INVOICE_NUMBER, {"number": number}).first()
        return None if row is None else _facts(row)

    def by_invoice_id(self, invoice_id: int) -> CaseFacts:
        return _facts(self.connection.execute(_BY_INVOICE_ID, {"invoice_id": invoice_id}).one())

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
        query = (_locked().where(self._among(CASES.c.id, case_ids), CASES.c.next_action_at <= as_of)
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

    def overdue_to_lift(self, debtor_ids: set[int], as_of: date, excluded_states: frozenset[str],
                        outside: list[int]) -> list[tuple[str, CaseFacts]]:
        """(policy name, case) of the debtors' cases overdue on `as_of`, locked, not in `excluded_states` and not
        among `outside` (a grouped notice may lift them to its step)."""
        if not debtor_ids:
            return []
        query = (_locked().add_columns(VERSIONS.c.name.label("policy_name"))
                 .join(VERSIONS, VERSIONS.c.id == CASES.c.policy_version_id)
                 .where(self._among(CASES.c.debtor_id, sorted(debtor_ids)), INVOICES.c.due_date < as_of,
                        CASES.c.state.not_in(excluded_states))
                 .order_by(CASES.c.id))
        skip = set(outside)  # filtered here: a NOT IN of a whole batch costs more to bind than to filter
        return [(row.policy_name, CaseFacts(**{k: v for k, v in row._mapping.items() if k != "policy_name"}))
                for row in self.connection.execute(query) if row.case_id not in skip]

    # --- what the debtor received (cases ↔ the messages queued for them) ----------------------------

    def with_pending_message(self, case_ids: list[int]) -> set[int]:
        """The cases (of `case_ids`) with a message still waiting for delivery."""
        if not case_ids:
            return set()
        query = (select(ACTIONS.c.case_id).join(OUTBOX, OUTBOX.c.key == ACTIONS.c.message_key)
                 .where(self._among(ACTIONS.c.case_id, case_ids), OUTBOX.c.status.in_(WAITING)).distinct())
        return set(self.connection.execute(query).scalars())

    def moved_by_message(self, key: str) -> list[Any]:
        """For every queued audit entry of message `key`, newest first per case: the state it moved the case to,
        with the case's current row (locked)."""
        return list(self.connection.execute(_MOVED_BY_MESSAGE, {"key": key}))

    def moved_by_messages(self, keys: list[str]) -> dict[str, list[Any]]:
        """`moved_by_message` for a batch of delivered messages in one query: message key → its rows."""
        if not keys:
            return {}
        query = _MOVED_BY_MESSAGES_PG if self.postgres else _MOVED_BY_MESSAGES
        moved: dict[str, list[Any]] = {}
        for row in self.connection.execute(query, {"keys": list(keys)}):
            moved.setdefault(row.message_key, []).append(row)
        return moved

    def other_message_moved(self, case_id: int, state: str, key: str) -> bool:
        """Did another message moving this case to `state` reach the debtor, or is one still waiting?"""
        found = self.connection.execute(_OTHER_MESSAGE_MOVED, {"case_id": case_id, "state": state, "key": key})
        return found.first() is not None

    def due_numbers(self, key: str) -> set[str]:
        """The invoices message `key` was queued for because they were due it (not lifted along on a grouped one)."""
        return set(self.connection.execute(_DUE_NUMBERS, {"key": key}).scalars())

    def update_case(self, case_id: int, revision: int, values: dict[str, Any]) -> None:
        """Change some of a case's columns (a delivery, a withdrawal); its revision goes up."""
        self.connection.execute(_UPDATE_CASE, {"case_id_": case_id, "revision": revision + 1, **values})

    # --- writing cases --------------------------------------------------------------------------

    def advance(self, changes: list[dict[str, Any]]) -> int:
        """One batched update for a run's outcomes, each only if its revision is unchanged; rows updated.

        Each change: case_id, old_revision, new_state, new_resume, new_last, new_next, new_repeats.
        """
        rows = [(c["new_state"], c["new_resume"], c["new_last"], c["new_next"], c["new_repeats"], c["case_id"],
                 c["old_revision"]) for c in changes]
        return update_rows(self.connection, CASES, ("state", "resume_state", "last_step_on", "next_action_at",
                                                    "repeats"), ("id", "revision"), rows,
                           extra_set="revision = revision + 1")

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
        """The debtors' invoices overdue on `as_of` whose cases are not in `excluded_states` (grouped notices),
        with each invoice's own e-mail contact."""
        query = (
            select(CASES.c.id, CASES.c.state, CASES.c.debtor_id, CASES.c.policy_version_id, INVOICES.c.number,
                   INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount, INVOICES.c.issue_date,
                   INVOICES.c.due_date, INVOICES.c.email)
            .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
            .where(CASES.c.debtor_id.in_(debtor_ids), INVOICES.c.due_date < as_of,
                   CASES.c.state.not_in(excluded_states))
        )
        return list(self.connection.execute(query))

    def overdue_amounts(self, debtor_ids: set[int], as_of: date,
                        excluded_states: frozenset[str]) -> list[tuple[int, str, Any]]:
        """(debtor, currency, open amount) of the debtors' invoices overdue on `as_of` whose cases are not in
        `excluded_states` (summed by the caller, not in SQL: on SQLite amounts are text)."""
        if not debtor_ids:
            return []
        query = (select(CASES.c.debtor_id, INVOICES.c.currency, INVOICES.c.open_amount)
                 .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
                 .where(self._among(CASES.c.debtor_id, sorted(debtor_ids)), INVOICES.c.due_date < as_of,
                        CASES.c.state.not_in(excluded_states)))
        return [(row[0], row[1], row[2]) for row in self.connection.execute(query)]

    def invoice_emails(self, invoice_ids: list[int]) -> dict[int, str]:
        """The invoices' own e-mail contacts, for those that have one."""
        if not invoice_ids:
            return {}
        query = select(INVOICES.c.id, INVOICES.c.email).where(self._among(INVOICES.c.id, invoice_ids),
                                                                   INVOICES.c.email != "")
        return {row.id: row.email for row in self.connection.execute(query) if row.email}

    # --- cases whose notice could not be made -------------------------------------------------------

    def record_failures(self, failures: list[dict[str, Any]], as_of: date) -> None:
        """Write (or count up) each failure; the case itself is not touched.

        Each failure: case_id, debtor_id, case_revision, error, hint.
        """
        if not failures:
            return
        ids = [f["case_id"] for f in failures]
        known = {row.case_id: row for row in self.connection.execute(
            select(FAILURES).where(FAILURES.c.case_id.in_(ids)))}
        for failure in failures:
            values = dict(case_revision=failure["case_revision"], failed_on=as_of, error=failure["error"],
                          hint=failure["hint"])
            previous = known.get(failure["case_id"])
            if previous is None:
                self.connection.execute(insert(FAILURES).values(case_id=failure["case_id"],
                                                                debtor_id=failure["debtor_id"],
                                                                first_failed_on=as_of, attempts=1, **values))
            else:
                self.connection.execute(update(FAILURES).where(FAILURES.c.case_id == failure["case_id"])
                                        .values(attempts=previous.attempts + 1, **values))

    def clear_failures(self, case_ids: list[int]) -> None:
        """The cases a run got through are no longer failing."""
        if case_ids:
            self.connection.execute(delete(FAILURES).where(FAILURES.c.case_id.in_(case_ids)))

    def failing(self) -> list[Any]:
        """Failures that still hold: the case has not moved since (same revision)."""
        query = (select(INVOICES.c.number, DEBTORS.c.code, FAILURES.c.first_failed_on, FAILURES.c.failed_on,
                        FAILURES.c.attempts, FAILURES.c.error, FAILURES.c.hint)
                 .join(CASES, CASES.c.id == FAILURES.c.case_id)
                 .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
                 .join(DEBTORS, DEBTORS.c.id == FAILURES.c.debtor_id)
                 .where(CASES.c.revision == FAILURES.c.case_revision)
                 .order_by(DEBTORS.c.code, INVOICES.c.number))
        return list(self.connection.execute(query))

    # --- audit trail and run log ------------------------------------------------------------------

    def record(self, rows: list[dict[str, Any]]) -> None:
        """Audit-trail entries (`actions`), in one driver `executemany` (rows with the same keys)."""
        insert_rows(self.connection, ACTIONS, rows)

    def queue_messages(self, rows: list[dict[str, Any]]) -> None:
        """A run's rendered messages into the outbox, in one driver `executemany` (rows with the same keys)."""
        insert_rows(self.connection, OUTBOX, rows)

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
