"""The daily run: claim due cases in batches, decide, write actions + outbox + new state, commit.

Cost grows with the cases that are due, not with the portfolio: due cases are
found through the `next_action_at` index, and everything else is read by id.

Exactly-once, per batch and in one unit of work:
- the batch's cases are re-read under a write lock and must still be due
  (SQLite: the writing unit of work begins IMMEDIATE and so serialises writers;
  PostgreSQL: each worker takes the debtors it can get with a transaction-scoped
  advisory lock, skipping those another worker holds, then locks their cases
  with a plain, blocking FOR UPDATE, which never waits in practice because the
  debtor's advisory lock is already held);
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
from typing import Any, Callable, Iterable, Iterator

from dunflow.domain.links import PaymentLinks
from dunflow.domain.notice import Creditor
from dunflow.engine.advance import CaseFacts, Outcome, Timer, decide, needs_debtor_total
from dunflow.engine.collection import hand_over
from dunflow.engine.failures import leave_failed_behind
from dunflow.engine.notices import Messages, NoticeWriter
from dunflow.engine.pauses import Timers, fires, load_pause_facts, require_timers
from dunflow.engine.receipts import pending_cases
from dunflow.engine.totals import overdue_totals
from dunflow.errors import DunflowError
from dunflow.rendering.templates import TemplateStore
from dunflow.store.uow import MAX_ATTEMPTS, Contended, DuplicateWrite, Store, UnitOfWork, log


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
    failed: list[dict[str, object]] = field(default_factory=list)  # cases left behind: their notice failed


class _Conflict(Exception):
    """Another worker changed a case of this batch first; the batch is retried."""


def run_due(store: Store, templates: TemplateStore, creditor: Creditor, as_of: date, timers: Timers, *,
            dry_run: bool = False, batch_size: int = 1000, force: bool = False,
            progress: Callable[[int, int], None] | None = None, share: tuple[int, int] = (0, 1),
            record: bool = True, links: PaymentLinks | None = None) -> RunReport:
    """Advance every case due on `as_of`; `timers` (from bootstrap) end the timed pauses; `progress(done, due)` is
    told after each batch (for a progress bar); `links`: payment links for the notices (`payment_link`).

    `share` = (k, n): this is worker k of n on the same due set (`run --workers n`): it starts k/n of the way
    into the batches and goes round, so the workers begin on different debtors and each still makes sure of
    every batch (a debtor another worker holds is skipped, then waited for at the end). `record`: write the
    run log entry (the workers' parent writes one for all).

    Timestamps (`recorded_at`, `created_at`, the run log) come from the store's clock.
    """
    require_timers(timers)
    report = RunReport(as_of, dry_run)
    started = store.clock.now()
    with store.reading() as uow:
        _refuse_going_back(uow, as_of, force)
        due = uow.cases.due_keys(as_of)  # (debtor, case), a debtor's cases together
    report.due = len(due)
    batch = _Batch(store, templates, creditor, as_of, timers, report, dry_run, links)
    chunks = _shared(list(_chunks_by_debtor(due, batch_size)), *share)
    left = batch.process(_reported(iter(chunks), len(due), progress), wait=False)
    batch.process(_chunks_by_debtor(left, batch_size), wait=True)  # debtors another worker held: wait for them
    if not dry_run and record:
        with store.writing() as uow:
            uow.cases.record_run(as_of, started, store.clock.now(), report.advanced, report.messages)
    return report


def _shared(chunks: list[list[tuple[int, int]]], worker: int, workers: int) -> list[list[tuple[int, int]]]:
    """Every chunk, starting at worker's share of the way in (worker 0 of 1: in order)."""
    if not 0 <= worker < workers:
        raise ValueError(f"worker {worker} of {workers}")
    start = len(chunks) * worker // workers
    return chunks[start:] + chunks[:start]


def record_run(store: Store, as_of: date, started: datetime, advanced: int, messages: int) -> None:
    """The run log entry for a run done by several workers (each ran with `record=False`)."""
    with store.writing() as uow:
        uow.cases.record_run(as_of, started, store.clock.now(), advanced, messages)


def _reported(chunks: Iterator[list[tuple[int, int]]], total: int,
              progress: Callable[[int, int], None] | None) -> Iterator[list[tuple[int, int]]]:
    """The same chunks; after each one is processed, `progress` hears how many cases are done."""
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def _refuse_going_back(uow: UnitOfWork, as_of: date, force: bool) -> None:
    last = uow.cases.last_run_on()
    if last is not None and as_of < last and not force:
        raise DunflowError(f"a run for {last} already happened; {as_of} is earlier",
                           "runs go forward in time; pass --force if you really mean to run an earlier date")


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


def _claim(uow: UnitOfWork, chunk: list[tuple[int, int]], as_of: date,
           wait: bool) -> tuple[list[CaseFacts], list[tuple[int, int]]]:
    """The chunk's cases that are still due, all of a debtor's or none (a grouped notice is never split),
    and the keys of the debtors skipped because another worker held them."""
    debtors = set(uow.cases.lock_debtors(sorted({debtor for debtor, _ in chunk}), wait))
    case_ids = [case for debtor, case in chunk if debtor in debtors]
    skipped = [key for key in chunk if key[0] not in debtors]
    if not case_ids:
        return [], skipped
    claimed = uow.cases.claim(case_ids, as_of)
    waiting = pending_cases(uow, [facts.case_id for facts in claimed])
    return [replace(facts, pending=True) if facts.case_id in waiting else facts for facts in claimed], skipped


@dataclass
class _Batch:
    """One run's batches: each in its own transaction, retried when another writer got there first."""

    store: Store
    templates: TemplateStore
    creditor: Creditor
    as_of: date
    timers: Timers
    report: RunReport
    dry_run: bool
    links: PaymentLinks | None = None

    def process(self, chunks: Iterable[list[tuple[int, int]]], wait: bool) -> list[tuple[int, int]]:
        """Run every chunk; the (debtor, case) keys skipped because another worker held the debtor."""
        skipped: list[tuple[int, int]] = []
        for chunk in chunks:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    skipped += self._one(chunk, wait)
                    break
                except (_Conflict, DuplicateWrite, Contended) as lost:
                    if attempt == MAX_ATTEMPTS:
                        raise DunflowError("cases kept changing under this run (another worker?)", "run again")
                    log.warning("run batch of %d case(s) lost to another writer (%s); retrying (attempt %d of %d)",
                                len(chunk), lost or type(lost).__name__, attempt + 1, MAX_ATTEMPTS)
        return skipped

    def _one(self, chunk: list[tuple[int, int]], wait: bool) -> list[tuple[int, int]]:
        with self.store.writing() as uow:
            skipped = self._write(uow, chunk, wait)
            if self.dry_run:
                uow.discard()
            return skipped

    def _write(self, uow: UnitOfWork, chunk: list[tuple[int, int]], wait: bool) -> list[tuple[int, int]]:
        claimed, skipped = _claim(uow, chunk, self.as_of, wait)
        pauses = load_pause_facts(uow, self.timers, claimed, self.as_of)
        outcomes = _decide_all(uow, claimed, pauses, fires(self.timers), self.as_of, self.report)
        now = uow.clock.now()
        messages = NoticeWriter(uow, self.templates, self.creditor, self.as_of, now, self.links).write(outcomes)
        outcomes, failures = leave_failed_behind(uow, outcomes, messages.failed, self.as_of)
        outcomes += messages.companions  # other invoices a grouped notice lifted to its step
        _write_actions(uow, outcomes, messages, self.as_of, now)
        if uow.cases.advance(_case_changes(outcomes)) != len(outcomes):
            raise _Conflict()
        hand_over(uow, outcomes, self.as_of)  # escalations to a collection agency: in_collection
        uow.pauses.apply_effects([effect for outcome in outcomes for effect in outcome.effects])
        _tally(self.report, outcomes, messages.rows, self.dry_run)
        self.report.failed += [f.summary() for f in failures]
        return skipped


def _decide_all(uow: UnitOfWork, claimed: list[CaseFacts], pauses: dict[int, Any],
                timers: dict[str, Timer], as_of: date, report: RunReport) -> list[Outcome]:
    outcomes: list[Outcome] = []
    totals = overdue_totals(uow, {f.debtor_id for f in claimed
                                  if needs_debtor_total(uow.versions.compiled(f.policy_version_id), f)}, as_of)
    for facts in claimed:
        version = facts.policy_version_id
        outcome = decide(uow.versions.compiled(version), uow.versions.calendar(version), facts,
                         as_of, pauses.get(facts.case_id), timers,
                         debtor_overdue=totals.get((facts.debtor_id, facts.currency)))
        if outcome is None:
            report.deferred += 1
        else:
            outcomes.append(outcome)
    return outcomes


def action_key(case_id: int, revision: int, kind: str, step: str, channel: str = "", n: int = 0) -> str:
    """Deterministic per case revision: a redone batch writes the same keys, a double write fails."""
    return f"case:{case_id}:r{revision}:{kind}:{step}:{channel}:{n}"


def _write_actions(uow: UnitOfWork, outcomes: list[Outcome], messages: Messages, as_of: date,
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
    uow.cases.record(rows)


def _case_changes(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [dict(case_id=o.facts.case_id, old_revision=o.facts.revision, new_state=o.state,
                 new_resume=o.resume_state, new_last=o.last_step_on, new_next=o.next_action_at,
                 new_repeats=o.repeats)
            for o in outcomes]


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

