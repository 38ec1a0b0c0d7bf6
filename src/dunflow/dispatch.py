"""Deliver pending outbox messages through their channel and mark them sent.

A message is marked sent in its own short transaction after delivery; if the
process dies in between, the next `send` delivers it again with the same key,
which every channel treats as the same message (the file sink overwrites the
same file; SMTP will carry the same Message-ID).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import Engine, select, update

from .adapters.channels import Channel
from .adapters.orm import OutboxMessage

OUTBOX = OutboxMessage.__table__


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0


def send_pending(engine: Engine, channel_for: Callable[[str], Channel], now: Callable[[], datetime],
                 limit: int | None = None) -> SendReport:
    report = SendReport()
    with engine.connect() as connection:
        query = select(OUTBOX).where(OUTBOX.c.status == "pending").order_by(OUTBOX.c.id).limit(limit)
        pending = [dict(row._mapping) for row in connection.execute(query)]
    for message in pending:
        try:
            channel_for(message["channel"]).deliver(message)
        except OSError as exc:
            _mark(engine, message["id"], "pending", now(), error=str(exc), attempts=message["attempts"] + 1)
            report.failed += 1
            continue
        _mark(engine, message["id"], "sent", now(), attempts=message["attempts"] + 1)
        report.sent += 1
    return report


def _mark(engine: Engine, message_id: int, status: str, at: datetime, *, attempts: int, error: str = "") -> None:
    values: dict[str, object] = dict(status=status, attempts=attempts, last_error=error)
    if status == "sent":
        values["sent_at"] = at
    with engine.begin() as connection:
        connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id, OUTBOX.c.status == "pending")
                           .values(**values))
