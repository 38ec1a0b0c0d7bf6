"""Deliver pending outbox messages through their channel and mark them sent.

Before delivery each message is checked against today's open amounts (see
`refresh`): rendered again if a partial payment arrived since, withdrawn if none
of its invoices is still due it. A delivery or a withdrawal moves the ladder of
the cases the message was queued for (`engine.receipts`). A message is marked sent in its own short
transaction after delivery; if the process dies in between, the next `send`
delivers it again with the same key, which every channel treats as the same
message (the file sink rewrites the same file).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterator

from dunflow.delivery.channels import Channel
from dunflow.delivery.refresh import Refreshed, Withdrawn
from dunflow.engine.receipts import record_delivery, retract
from dunflow.store.uow import Store, UnitOfWork

Refresher = Callable[[UnitOfWork, dict[str, Any]], "Refreshed | Withdrawn | None | bool"]
NOT_DUE = "none of its invoices is still due it (paid, credited, cancelled or paused)"


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    withdrawn: int = 0
    rerendered: int = 0


def send_pending(store: Store, channel_for: Callable[[str], Channel], refresher: Refresher | None = None,
                 limit: int | None = None, progress: Callable[[int, int], None] | None = None,
                 on: date | None = None) -> SendReport:
    """Deliver every pending message; `sent_at` comes from the store's clock; `progress(done, total)` is told after
    each one (for a progress bar); `on` is the delivery date the ladder counts from (default: today by the store's
    clock, never before the day a message was queued)."""
    report = SendReport()
    on = on or store.clock.today()
    with store.reading() as uow:
        pending = uow.outbox.pending_ids(limit)
    for message_id in _reported(pending, progress):
        message = _prepare(store, message_id, refresher, report, on)
        if message is None:
            continue
        try:
            channel_for(message["channel"]).deliver(message)
        except OSError as exc:
            _mark(store, message, "pending", error=str(exc))
            report.failed += 1
            continue
        _mark(store, message, "sent", on=max(on, message["created_on"]))
        report.sent += 1
    return report


def _reported(pending: list[int], progress: Callable[[int, int], None] | None) -> Iterator[int]:
    """The same ids; after each message is handled (sent, failed or withdrawn), `progress` hears of it."""
    for done, message_id in enumerate(pending, start=1):
        yield message_id
        if progress is not None:
            progress(done, len(pending))


def _prepare(store: Store, message_id: int, refresher: Refresher | None, report: SendReport,
             on: date) -> dict[str, Any] | None:
    """The message as it should go out now, or None when it is no longer pending or was withdrawn."""
    with store.writing() as uow:
        message = uow.outbox.pending(message_id)
        if message is None:
            return None
        verdict = True if refresher is None else refresher(uow, message)
        if verdict is None or isinstance(verdict, Withdrawn):
            why = verdict.why if isinstance(verdict, Withdrawn) else NOT_DUE
            uow.outbox.change(message_id, dict(status="cancelled", last_error=f"withdrawn before delivery: {why}"))
            retract(uow, message["key"], max(on, message["created_on"]), why)
            report.withdrawn += 1
            return None
        if isinstance(verdict, Refreshed):
            changes = dict(subject=verdict.subject, body=verdict.body, invoice_numbers=verdict.invoice_numbers,
                           open_amounts=verdict.open_amounts, last_error=verdict.note)
            uow.outbox.change(message_id, changes)
            message.update(changes)
            report.rerendered += 1
        return message


def _mark(store: Store, message: dict[str, Any], status: str, *, error: str = "", on: date | None = None) -> None:
    """Record the attempt; a delivered message also moves the ladder of the cases it was queued for."""
    with store.writing() as uow:
        marked = uow.outbox.mark(message["id"], status, uow.clock.now(), message["attempts"] + 1, error,
                                 delivered_on=on)
        if status == "sent" and on is not None and marked:
            record_delivery(uow, message["key"], on, message["created_on"])
