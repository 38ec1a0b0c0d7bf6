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
from datetime import date, datetime
from typing import Any, Callable

from sqlalchemy import Connection, Engine, select, update

from dunflow.delivery.channels import Channel
from dunflow.delivery.refresh import Refreshed, Withdrawn
from dunflow.engine.receipts import record_delivery, retract
from dunflow.store.orm import OutboxMessage, table_of

OUTBOX = table_of(OutboxMessage)
Refresher = Callable[[Connection, dict[str, Any]], "Refreshed | Withdrawn | None | bool"]
NOT_DUE = "none of its invoices is still due it (paid, credited, cancelled or paused)"


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    withdrawn: int = 0
    rerendered: int = 0


def send_pending(engine: Engine, channel_for: Callable[[str], Channel], now: Callable[[], datetime],
                 refresher: Refresher | None = None, limit: int | None = None, on: date | None = None) -> SendReport:
    """Deliver every pending message; `on` is the delivery date the ladder counts from (default: today by `now`,
    never before the day a message was queued)."""
    report = SendReport()
    with engine.connect() as connection:
        query = select(OUTBOX.c.id).where(OUTBOX.c.status == "pending").order_by(OUTBOX.c.id).limit(limit)
        pending = list(connection.execute(query).scalars())
    for message_id in pending:
        message = _prepare(engine, message_id, refresher, report, on or now().date())
        if message is None:
            continue
        try:
            channel_for(message["channel"]).deliver(message)
        except OSError as exc:
            _mark(engine, message, "pending", now(), error=str(exc))
            report.failed += 1
            continue
        _mark(engine, message, "sent", now(), on=max(on or now().date(), message["created_on"]))
        report.sent += 1
    return report


def _prepare(engine: Engine, message_id: int, refresher: Refresher | None, report: SendReport,
             on: date) -> dict[str, Any] | None:
    """The message as it should go out now, or None when it is no longer pending or was withdrawn."""
    with engine.begin() as connection:
        row = connection.execute(select(OUTBOX).where(OUTBOX.c.id == message_id, OUTBOX.c.status == "pending")).first()
        if row is None:
            return None
        message = dict(row._mapping)
        verdict = True if refresher is None else refresher(connection, message)
        if verdict is None or isinstance(verdict, Withdrawn):
            why = verdict.why if isinstance(verdict, Withdrawn) else NOT_DUE
            connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(
                status="cancelled", last_error=f"withdrawn before delivery: {why}"))
            retract(connection, message["key"], max(on, message["created_on"]), why)
            report.withdrawn += 1
            return None
        if isinstance(verdict, Refreshed):
            changes = dict(subject=verdict.subject, body=verdict.body, invoice_numbers=verdict.invoice_numbers,
                           open_amounts=verdict.open_amounts, last_error=verdict.note)
            connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**changes))
            message.update(changes)
            report.rerendered += 1
        return message


def _mark(engine: Engine, message: dict[str, Any], status: str, at: datetime, *, error: str = "",
          on: date | None = None) -> None:
    """Record the attempt; a delivered message also moves the ladder of the cases it was queued for."""
    values: dict[str, object] = dict(status=status, attempts=message["attempts"] + 1, last_error=error)
    if status == "sent":
        values.update(sent_at=at, delivered_on=on)
    with engine.begin() as connection:
        marked = connection.execute(update(OUTBOX).where(OUTBOX.c.id == message["id"], OUTBOX.c.status == "pending")
                                    .values(**values))
        if status == "sent" and on is not None and marked.rowcount == 1:
            record_delivery(connection, message["key"], on)
