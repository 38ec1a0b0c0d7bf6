"""The daily run: claim due cases in batches, decide, write actions + outbox + new state, commit.

Cost grows with the cases that are due, not with the portfolio: due cases are
found through the `next_action_at` index, and everything else is read by id.

Exactly-once, per batch and in one transaction:
- the batch's cases are re-read under a write lock and must still be due
  (SQLite: BEGIN IMMEDIATE serialises writers; PostgreSQL: each worker takes
  the debtors it can get with a transaction-scoped advisory lock, skipping
  those another worker holds, then locks their cases FOR UPDATE);
- each case is updated only if its `revision` is unchanged;
- every action and message carries a unique idempotency key derived from the
  case and its revision.
A run killed mid-batch rolls that batch back; the next run redoes it. A run
repeated on the same day finds nothing due.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import groupby
from typing import Any, Iterable, Iterator, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from dunflow.domain.notice import Creditor
from dunflow.engine.advance import CaseFacts, Outcome, decide
from dunflow.engine.cases import facts_of, locked_cases
from dunflow.engine.notices import Messages, NoticeWriter
from dunflow.engine.receipts import pending_cases
from dunflow.errors import DunflowError
from dunflow.events.timers import load_pause_facts, write_effects
from dunflow.policy.versions import CompiledVersions
from dunflow.rendering.templates import TemplateStore
from dunflow.store.orm import Action, Case, Invoice, Run, table_of

CASES, INVOICES, ACTIONS, RUNS = table_of(Case), table_of(Invoice), table_of(Action), table_of(Run)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class RunReport:
    as_of: date
    dry_run: bool
    due: int = 0
    advanced: int = 0
    messages: int = 0
    deferred: int = 0
    waiting: int = 0  # due, but their last notice is still in the outbox
    steps: Counter[str] = field(default_factory=Counter)
    notices: list[dict[str, object]] = field(default_factory=list)


class _Conflict(Exception):
    """Another worker changed a case of this batch first; the batch is retried."""


def run_due(engine: Engine, templates: TemplateStore, creditor: Creditor, as_of: date, clock: Clock, *,
            dry_run: bool = False, batch_size: int = 1000, force: bool = False) -> RunReport:
    report = RunReport(as_of, dry_run)
    with engine.begin() as connection:
        _refuse_going_back(connection, as_of, force)
    due = _due_keys(engine, as_of)
    report.due = len(due)
    batch = _Batch(engine, templates, creditor, as_of, clock, report, dry_run)
    left = batch.process(_chunks_by_debtor(due, batch_size), wait=False)
    batch.process(_chunks_by_debtor(left, batch_size), wait=True)  # debtors another worker held: wait for them
    if not dry_run:
        with engine.begin() as connection:
            connection.execute(insert(RUNS).values(as_of=as_of, started_at=clock.now(), finished_at=clock.now(),
                                                   status="done", cases_advanced=report.advanced,
                                                   messages=report.messages))
    return report


def _refuse_going_back(connection: Connection, as_of: date, force: bool) -> None:
    last = connection.execute(select(func.max(RUNS.c.as_of)).where(RUNS.c.status == "done")).scalar()
    if last is not None and as_of < last and not force:
        raise DunflowError(f"a run for {last} already happened; {as_of} is earlier",
                           "runs go forward in time; pass --force if you really mean to run an earlier date")


def _due_keys(engine: Engine, as_of: date) -> list[tuple[int, int]]:
    """(debtor, case) of every due case, ordered so that a debtor's cases stay in one batch."""
    query = (select(CASES.c.debtor_id, CASES.c.id).where(CASES.c.next_action_at <= as_of)
             .order_by(CASES.c.debtor_id, CASES.c.id))
    with engine.connect() as connection:
        return [(row[0], row[1]) for row in connection.execute(query)]


def _chunks_by_debtor(keys: list[tuple[int, int]], size: int) -> Iterator[list[tuple[int, int]]]:
    chunk: list[tuple[int, int]] = []
    for _, rows in groupby(keys, key=lambda k: k[0]):
        group = list(rows)
        if chunk and len(chunk) + len(group) > size:
            yield chunk
            chunk = []
        chunk += group
    if chunk:
        yield chunk


def _lock_debtors(connection: Connection, debtor_ids: list[int], wait: bool) -> list[int]:
    """PostgreSQL: the debtors this worker holds for the batch (advisory locks keyed by schema and debtor).

    Without `wait` a debtor another worker holds is skipped (it is working on it); with `wait` we queue
    behind it and then find its cases no longer due. SQLite needs none of this: BEGIN IMMEDIATE already
    serialised the writers.
    """
    if connection.dialect.name != "postgresql":
        return debtor_ids
    if wait:
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), d) "
                                "FROM unnest(CAST(:ids AS integer[])) AS d ORDER BY d"), {"ids": debtor_ids})
        return debtor_ids
    rows = connection.execute(text("SELECT d FROM unnest(CAST(:ids AS integer[])) AS d "
                                   "WHERE pg_try_advisory_xact_lock(hashtext(current_schema()), d)"),
                              {"ids": debtor_ids})
    return [row[0] for row in rows]


def _claim(connection: Connection, chunk: list[tuple[int, int]], as_of: date,
           wait: bool) -> tuple[list[CaseFacts], list[tuple[int, int]]]:
    """The chunk's cases that are still due, all of a debtor's or none (a grouped notice is never split),
    and the keys of the debtors skipped because another worker held them."""
    debtors = set(_lock_debtors(connection, sorted({debtor for debtor, _ in chunk}), wait))
    case_ids = [case for debtor, case in chunk if debtor in debtors]
    skipped = [key for key in chunk if key[0] not in debtors]
    if not case_ids:
        return [], skipped
    query = (locked_cases().where(CASES.c.id.in_(case_ids), CASES.c.next_action_at <= as_of)
             .order_by(CASES.c.debtor_id, CASES.c.id))
    claimed = [facts_of(row) for row in connection.execute(query)]
    waiting = pending_cases(connection, [facts.case_id for facts in claimed])
    return [replace(facts, pending=facts.case_id in waiting) for facts in claimed], skipped


@dataclass
class _Batch:
    """One run's batches: each in its own transaction, retried when another writer got there first."""

    engine: Engine
    templates: TemplateStore
    creditor: Creditor
    as_of: date
    clock: Clock
    report: RunReport
    dry_run: bool

    def process(self, chunks: Iterable[list[tuple[int, int]]], wait: bool) -> list[tuple[int, int]]:
        """Run every chunk; the (debtor, case) keys skipped because another worker held the debtor."""
        skipped: list[tuple[int, int]] = []
        for chunk in chunks:
            for attempt in range(3):
                try:
                    skipped += self._one(chunk, wait)
                    break
                except (_Conflict, IntegrityError):
                    if attempt == 2:
                        raise DunflowError("cases kept changing under this run (another worker?)", "run again")
        return skipped

    def _one(self, chunk: list[tuple[int, int]], wait: bool) -> list[tuple[int, int]]:
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                skipped = self._write(connection, chunk, wait)
            except BaseException:
                transaction.rollback()
                raise
            if self.dry_run:
                transaction.rollback()
            else:
                transaction.commit()
            return skipped

    def _write(self, connection: Connection, chunk: list[tuple[int, int]], wait: bool) -> list[tuple[int, int]]:
        versions = CompiledVersions(connection)
        claimed, skipped = _claim(connection, chunk, self.as_of, wait)
        outcomes = _decide_all(versions, claimed, load_pause_facts(connection, claimed, self.as_of), self.as_of,
                               self.report)
        now = self.clock.now()
        messages = NoticeWriter(connection, versions, self.templates, self.creditor, self.as_of, now).write(outcomes)
        outcomes += messages.companions  # other invoices a grouped notice lifted to its step
        _write_actions(connection, outcomes, messages, self.as_of, now)
        _update_cases(connection, outcomes)
        write_effects(connection, outcomes)
        _tally(self.report, outcomes, messages.rows, self.dry_run)
        return skipped


def _decide_all(versions: CompiledVersions, claimed: list[CaseFacts], pauses: dict[int, Any], as_of: date,
                report: RunReport) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for facts in claimed:
        outcome = decide(versions.get(facts.policy_version_id), versions.calendar(facts.policy_version_id), facts,
                         as_of, pauses.get(facts.case_id))
        if outcome is None:
            report.deferred += 1
        else:
            outcomes.append(outcome)
    return outcomes


def action_key(case_id: int, revision: int, kind: str, step: str, channel: str = "", n: int = 0) -> str:
    """Deterministic per case revision: a redone batch writes the same keys, a double write fails."""
    return f"case:{case_id}:r{revision}:{kind}:{step}:{channel}:{n}"


def _write_actions(connection: Connection, outcomes: list[Outcome], messages: Messages, as_of: date,
                   now: datetime) -> None:
    rows: list[dict[str, object]] = []
    for outcome in outcomes:
        facts = outcome.facts
        for n, record in enumerate(outcome.records):
            deliveries: list[tuple[str, str | None]] = list(
                messages.by_case.get(facts.case_id, []) if record.status == "queued" else [])
            for channel, key in deliveries or [("", None)]:
                rows.append(dict(
                    case_id=facts.case_id, kind=record.kind, step=record.step, channel=channel, at=as_of,
                    recorded_at=now, policy_version_id=facts.policy_version_id, from_state=record.from_state,
                    to_state=record.to_state, rule=record.rule, status=record.status, actor="runner",
                    message_key=key,
                    idempotency_key=action_key(facts.case_id, facts.revision, record.kind, record.step, channel, n)))
    if rows:
        connection.execute(insert(ACTIONS), rows)


def _update_cases(connection: Connection, outcomes: list[Outcome]) -> None:
    if not outcomes:
        return
    statement = (
        update(CASES)
        .where(and_(CASES.c.id == bindparam("case_id"), CASES.c.revision == bindparam("old_revision")))
        .values(state=bindparam("new_state"), resume_state=bindparam("new_resume"), last_step_on=bindparam("new_last"),
                next_action_at=bindparam("new_next"), revision=CASES.c.revision + 1)
    )
    params = [dict(case_id=o.facts.case_id, old_revision=o.facts.revision, new_state=o.state,
                   new_resume=o.resume_state, new_last=o.last_step_on, new_next=o.next_action_at)
              for o in outcomes]
    result = connection.execute(statement, params)
    if result.rowcount != len(params):
        raise _Conflict()


def _tally(report: RunReport, outcomes: Iterable[Outcome], messages: list[dict[str, object]], dry_run: bool) -> None:
    for outcome in outcomes:
        report.waiting += outcome.waiting
        if outcome.notice is not None:
            report.advanced += 1
            report.steps[outcome.notice.id] += 1
    report.messages += len(messages)
    if dry_run:
        report.notices += [{k: m[k] for k in ("channel", "recipient", "step", "subject", "invoice_numbers")}
                           for m in messages]

