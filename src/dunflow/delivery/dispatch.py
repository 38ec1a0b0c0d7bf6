"""Deliver the outbox through its channels: claim a batch, check, deliver, record what happened.

States (store/outbox.py): pending → claimed → sent | retry | dead, or cancelled (withdrawn).

1. **Claim** up to `batch_size` ready messages in one statement (a lease until now + `lease`; PostgreSQL
   `FOR UPDATE SKIP LOCKED`, SQLite under the write lock), and check each against today's open amounts in the same
   transaction (see `refresh`): rendered again if a partial payment arrived since, withdrawn if none of its invoices
   is still due it (`retract` moves the ladder back).
2. **Deliver** each message through its channel, outside any transaction. A channel raises `TemporaryFailure`
   or `PermanentFailure` (delivery/errors.py); anything else it raises counts as temporary. A bad message fails
   alone: the rest of the batch goes on.
3. **Record** each outcome with an attempt row: sent (the ladder moves, `engine.receipts.record_delivery`),
   retry (exponential backoff through `next_attempt_at`) or dead (after the channel's `max_attempts`, or at once
   on a permanent failure; `on_dead`). Channels whose delivery is idempotent by itself (the file sink rewrites the
   same file) are recorded once per batch, after the channel flushed; network channels right after each message,
   so a sender killed mid-batch leaves at most the one message in flight to be delivered again, with the same
   Message-ID / Idempotency-Key for the receiver to drop it.

A sender that dies holds its claims until their lease runs out; then the next `send` claims them again.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from dunflow.delivery.channels import Channel
from dunflow.delivery.errors import DeliveryFailure
from dunflow.delivery.refresh import Refreshed, Withdrawn
from dunflow.engine.receipts import record_deliveries, retract
from dunflow.errors import DunflowError
from dunflow.store.uow import Store, UnitOfWork

Refresher = Callable[[UnitOfWork, dict[str, Any]], "Refreshed | Withdrawn | None | bool"]
NOT_DUE = "none of its invoices is still due it (paid, credited, cancelled or paused)"
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_SECONDS = 60.0  # first retry after a minute, then 2, 4, 8… minutes
MAX_BACKOFF = timedelta(hours=6)
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_BATCH = 500


@dataclass(frozen=True)
class ChannelPolicy:
    """How often and how patiently one channel is retried."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_seconds: float = DEFAULT_RETRY_SECONDS

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt: retry_seconds · 2^(attempts-1), at most 6 hours."""
        wait = timedelta(seconds=max(self.retry_seconds, 0.001) * 2 ** max(0, attempts - 1))
        return min(wait, MAX_BACKOFF)


@dataclass(frozen=True)
class SendSettings:
    batch_size: int = DEFAULT_BATCH
    lease: timedelta = DEFAULT_LEASE
    policies: Mapping[str, ChannelPolicy] = field(default_factory=dict)  # channel name → retries

    def policy(self, channel: str) -> ChannelPolicy:
        return self.policies.get(channel, ChannelPolicy())


@dataclass(frozen=True)
class Failure:
    id: int
    channel: str
    recipient: str
    outcome: str  # retry | dead
    reason: str
    attempts: int
    next_attempt_at: datetime | None


@dataclass
class SendReport:
    sent: int = 0
    retry: int = 0
    dead: int = 0
    withdrawn: int = 0
    rerendered: int = 0
    deferred: int = 0  # outside their send window: waiting, pending, for it to open
    failures: list[Failure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.retry + self.dead


@dataclass
class _Outcome:
    message: dict[str, Any]
    where: str = ""
    failure: DeliveryFailure | None = None


Deferral = Callable[[UnitOfWork, dict[str, Any], datetime], "datetime | None"]


def worker_name() -> str:
    """Who holds a claim: host, process and a random part (two senders in one process differ too)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def send_pending(store: Store, channel_for: Callable[[str], Channel], refresher: Refresher | None = None,
                 limit: int | None = None, progress: Callable[[int, int], None] | None = None,
                 on: date | None = None, settings: SendSettings | None = None,
                 worker: str | None = None, defer: Deferral | None = None) -> SendReport:
    """Deliver every message that is ready now (see the module's docstring); `progress(done, total)` is told after
    each one; `on` is the delivery date the ladder counts from (default: today by the store's clock, never before the
    day a message was queued). Timestamps come from the store's clock. `defer(uow, message, now)`: when the message's
    send window next opens, or None to deliver now (`delivery.windows.deferral`); a deferred message waits, pending,
    with no attempt counted."""
    settings, worker = settings or SendSettings(), worker or worker_name()
    report, on = SendReport(), on or store.clock.today()
    started = store.clock.now()  # retries scheduled during this send wait for the next one
    with store.reading() as uow:
        total = uow.outbox.count_ready(started)
    if limit is not None:
        total = min(total, limit)
    done, channels = 0, _Channels(channel_for)
    try:
        while limit is None or done < limit:
            size = settings.batch_size if limit is None else min(settings.batch_size, limit - done)
            batch = _claim(store, worker, settings, size, refresher, report, on, started, defer)
            if batch is None:
                break
            done += _deliver_batch(store, worker, settings, batch, channels, report, on, progress, done, total)
    finally:
        channels.close()
    return report


class _Channels:
    """The channel objects of one send, asked for once per channel name and closed at the end."""

    def __init__(self, channel_for: Callable[[str], Channel]) -> None:
        self.channel_for = channel_for
        self.open: dict[str, Channel] = {}

    def __call__(self, name: str) -> Channel:
        if name not in self.open:
            self.open[name] = self.channel_for(name)
        return self.open[name]

    def flush(self) -> None:
        for channel in self.open.values():
            getattr(channel, "flush", lambda: None)()

    def close(self) -> None:
        for channel in {id(c): c for c in self.open.values()}.values():
            getattr(channel, "close", lambda: None)()


@dataclass
class _Batch:
    claimed: int
    messages: list[dict[str, Any]]


def _claim(store: Store, worker: str, settings: SendSettings, size: int, refresher: Refresher | None,
           report: SendReport, on: date, started: datetime, defer: Deferral | None) -> _Batch | None:
    """Claim a batch, check it against today's amounts and send windows: what to deliver, or None when nothing is
    ready."""
    with store.writing() as uow:
        claimed = uow.outbox.claim(worker, started, uow.clock.now() + settings.lease, size)
        if not claimed:
            return None
        prepare = getattr(refresher, "prepare", None)  # a `refresh.Refresher` reads the batch's debts ahead
        if prepare is not None:
            prepare(uow, claimed)
        ready = [m for m in claimed if _checked(uow, worker, m, refresher, report, on)
                 and not _deferred(uow, worker, m, defer, report)]
    return _Batch(len(claimed), ready)


def _deferred(uow: UnitOfWork, worker: str, message: dict[str, Any], defer: Deferral | None,
              report: SendReport) -> bool:
    """Outside its channel's send window in the debtor's zone: back to pending until the window opens (no attempt,
    no failure)."""
    opening = defer(uow, message, uow.clock.now()) if defer is not None else None
    if opening is None:
        return False
    if uow.outbox.finish(message["id"], worker, dict(status="pending", next_attempt_at=opening)):
        report.deferred += 1
    return True


def _checked(uow: UnitOfWork, worker: str, message: dict[str, Any], refresher: Refresher | None,
             report: SendReport, on: date) -> bool:
    """Is the message still to go out (possibly rendered again)? A withdrawn one is finished here."""
    verdict = True if refresher is None else refresher(uow, message)
    if verdict is None or isinstance(verdict, Withdrawn):
        why = verdict.why if isinstance(verdict, Withdrawn) else NOT_DUE
        if uow.outbox.finish(message["id"], worker, dict(status="cancelled", next_attempt_at=None,
                                                         last_error=f"withdrawn before delivery: {why}")):
            retract(uow, message["key"], max(on, message["created_on"]), why)
            uow.outbox.record_attempts([_attempt(uow, worker, message, "withdrawn", why)])
            report.withdrawn += 1
        return False
    if isinstance(verdict, Refreshed):
        changes = dict(subject=verdict.subject, body=verdict.body, html=verdict.html,
                       invoice_numbers=verdict.invoice_numbers, open_amounts=verdict.open_amounts,
                       charges_digest=verdict.charges_digest, last_error=verdict.note)
        uow.outbox.change(message["id"], changes)
        message.update(changes)
        report.rerendered += 1
    return True


def _deliver_batch(store: Store, worker: str, settings: SendSettings, batch: _Batch, channels: _Channels,
                   report: SendReport, on: date, progress: Callable[[int, int], None] | None, done: int,
                   total: int) -> int:
    """Deliver one claimed batch; the number of messages it claimed."""
    withdrawn = batch.claimed - len(batch.messages)
    if progress is not None and withdrawn:
        progress(min(done + withdrawn, max(total, done + withdrawn)), max(total, done + withdrawn))
    done += withdrawn
    unrecorded: list[_Outcome] = []
    untried = [m["id"] for m in batch.messages]
    renewed = time.monotonic()
    try:
        for message in batch.messages:
            if time.monotonic() - renewed > settings.lease.total_seconds() / 3:  # a slow channel keeps its claim
                with store.writing() as uow:
                    uow.outbox.renew([m["id"] for m in batch.messages], worker, uow.clock.now() + settings.lease)
                renewed = time.monotonic()
            channel: Channel | None = None
            try:
                channel = channels(message["channel"])
                outcome = _Outcome(message, where=channel.deliver(message))
            except DunflowError:
                raise  # a configuration error (a missing secret…): stop, every untried message goes back
            except DeliveryFailure as failure:
                outcome = _Outcome(message, failure=failure)
            except Exception as bug:  # noqa: BLE001 - a channel's bug fails this message, not the batch
                outcome = _Outcome(message, failure=DeliveryFailure(f"{type(bug).__name__}: {bug}"))
            untried.pop(0)
            if outcome.failure is not None or getattr(channel, "record_each", True):
                _record(store, worker, settings, [outcome], report, on)
            else:
                unrecorded.append(outcome)
            done += 1
            if progress is not None:
                progress(done, max(total, done))
    finally:
        if unrecorded:
            channels.flush()  # durable before it is recorded as sent
            _record(store, worker, settings, unrecorded, report, on)
        if untried:
            with store.writing() as uow:
                uow.outbox.release(untried, worker)
    return batch.claimed


def _record(store: Store, worker: str, settings: SendSettings, outcomes: list[_Outcome], report: SendReport,
            on: date) -> None:
    """One transaction: each outcome onto its message, an attempt row each, the ladder moved for the sent ones."""
    with store.writing() as uow:
        uow.commit_lazily()  # a receipt lost with the database server is a repeat under the same Message-ID
        now = uow.clock.now()
        attempts: list[dict[str, Any]] = []
        delivered = [o for o in outcomes if o.failure is None]
        finished = uow.outbox.finish_sent([(o.message["id"], o.message["attempts"] + 1,
                                           max(on, o.message["created_on"])) for o in delivered], worker, now)
        receipts = []
        for outcome in delivered:
            message = outcome.message
            if message["id"] in finished:
                receipts.append((message["key"], max(on, message["created_on"]), message["created_on"]))
                attempts.append(_attempt(uow, worker, message, "sent", "", outcome.where, message["attempts"] + 1))
                report.sent += 1
        record_deliveries(uow, receipts)
        for outcome in outcomes:
            if outcome.failure is None:
                continue
            message, tries = outcome.message, outcome.message["attempts"] + 1
            reason = outcome.failure.reason or type(outcome.failure).__name__
            policy = settings.policy(message["channel"])
            if outcome.failure.permanent or tries >= policy.max_attempts:
                why = reason if outcome.failure.permanent else f"{reason} (gave up after {tries} attempts)"
                if uow.outbox.finish(message["id"], worker, dict(status="dead", attempts=tries, last_error=why,
                                                                 next_attempt_at=None)):
                    on_dead(uow, message, why)
                    attempts.append(_attempt(uow, worker, message, "dead", why, "", tries))
                    report.dead += 1
                    report.failures.append(Failure(message["id"], message["channel"], message["recipient"], "dead",
                                                   why, tries, None))
                continue
            later = now + policy.backoff(tries)
            if uow.outbox.finish(message["id"], worker, dict(status="retry", attempts=tries, last_error=reason,
                                                             next_attempt_at=later)):
                attempts.append(_attempt(uow, worker, message, "retry", reason, "", tries))
                report.retry += 1
                report.failures.append(Failure(message["id"], message["channel"], message["recipient"], "retry",
                                               reason, tries, later))
        uow.outbox.record_attempts(attempts)


def on_dead(uow: UnitOfWork, message: dict[str, Any], reason: str) -> None:
    """A message ended dead: no attempt will be made any more. Recorded in the message (`dead_reason`), and a task
    for a person (`dunflow tasks`) opened: a notice that cannot reach its debtor needs someone to find out why (an
    address, a mailbox). The ladder does not climb meanwhile: only a delivered notice counts (engine.receipts)."""
    from dunflow.delivery.queue import open_task

    uow.outbox.change(message["id"], dict(dead_reason=reason))
    numbers = ", ".join(message.get("invoice_numbers") or [])
    open_task(uow, kind="delivery_failed", debtor_id=message["debtor_id"], invoice_id=None,
              message_key=f"dead:{message['key']}", step=str(message["step"]), on=uow.clock.today(),
              reason=f"{message['channel']} to {message['recipient'] or '(no recipient)'} for {numbers} could not "
                     f"be delivered: {reason}")


def _attempt(uow: UnitOfWork, worker: str, message: dict[str, Any], outcome: str, reason: str, where: str = "",
             attempt: int | None = None) -> dict[str, Any]:
    """The `delivery_attempts` row of one attempt (inserted by the caller, a batch at a time)."""
    return dict(message_id=message["id"], attempt=attempt or message["attempts"], at=uow.clock.now(),
                outcome=outcome, reason=reason[:4000], where=where[:1000], worker=worker)
