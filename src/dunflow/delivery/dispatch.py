"""Deliver pending outbox messages through their channel and mark them sent.

Before delivery each message is checked against today's open amounts (see
`refresh`): rendered again if a partial payment arrived since, withdrawn if none
of its invoices is still dunned. A message is marked sent in its own short
transaction after delivery; if the process dies in between, the next `send`
delivers it again with the same key, which every channel treats as the same
message (the file sink rewrites the same file).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from dunflow.delivery.channels import Channel
from dunflow.delivery.refresh import Refreshed
from dunflow.store.uow import Store, UnitOfWork

Refresher = Callable[[UnitOfWork, dict[str, Any]], "Refreshed | None | bool"]


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    withdrawn: int = 0
    rerendered: int = 0


def send_pending(store: Store, channel_for: Callable[[str], Channel], refresher: Refresher | None = None,
                 limit: int | None = None, progress: Callable[[int, int], None] | None = None) -> SendReport:
    """Deliver every pending message; `sent_at` comes from the store's clock; `progress(done, total)` is told after
    each one (for a progress bar)."""
    report = SendReport()
    with store.reading() as uow:
        pending = uow.outbox.pending_ids(limit)
    for message_id in _reported(pending, progress):
        message = _prepare(store, message_id, refresher, report)
        if message is None:
            continue
        try:
            channel_for(message["channel"]).deliver(message)
        except OSError as exc:
            _mark(store, message_id, "pending", error=str(exc), attempts=message["attempts"] + 1)
            report.failed += 1
            continue
        _mark(store, message_id, "sent", attempts=message["attempts"] + 1)
        report.sent += 1
    return report


def _reported(pending: list[int], progress: Callable[[int, int], None] | None) -> Iterator[int]:
    """The same ids; after each message is handled (sent, failed or withdrawn), `progress` hears of it."""
    for done, message_id in enumerate(pending, start=1):
        yield message_id
        if progress is not None:
            progress(done, len(pending))


def _prepare(store: Store, message_id: int, refresher: Refresher | None,
             report: SendReport) -> dict[str, Any] | None:
    """The message as it should go out now, or None when it is no longer pending or was withdrawn."""
    with store.writing() as uow:
        message = uow.outbox.pending(message_id)
        if message is None:
            return None
        verdict = True if refresher is None else refresher(uow, message)
        if verdict is None:
            uow.outbox.change(message_id, dict(
                status="cancelled", last_error="withdrawn before delivery: no invoice of it is still dunned"))
            report.withdrawn += 1
            return None
        if isinstance(verdict, Refreshed):
            changes = dict(subject=verdict.subject, body=verdict.body, invoice_numbers=verdict.invoice_numbers,
                           open_amounts=verdict.open_amounts, last_error=verdict.note)
            uow.outbox.change(message_id, changes)
            message.update(changes)
            report.rerendered += 1
        return message


def _mark(store: Store, message_id: int, status: str, *, attempts: int, error: str = "") -> None:
    with store.writing() as uow:
        uow.outbox.mark(message_id, status, uow.clock.now(), attempts, error)
