"""The outbox: messages queued by the run, withdrawn by events, delivered by `send`."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from dunflow.store.orm import OutboxMessage, table_of

OUTBOX = table_of(OutboxMessage)


class OutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(OUTBOX), rows)

    def pending_of_debtor(self, debtor_id: int) -> list[Any]:
        """(id, key, invoice_numbers) of the debtor's undelivered messages."""
        return list(self.connection.execute(select(OUTBOX.c.id, OUTBOX.c.key, OUTBOX.c.invoice_numbers).where(
            OUTBOX.c.status == "pending", OUTBOX.c.debtor_id == debtor_id)))

    def withdraw(self, ids: list[int], why: str) -> None:
        if ids:
            self.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.status == "pending")
                                    .values(status="cancelled", last_error=why))

    def pending_ids(self, limit: int | None = None) -> list[int]:
        query = select(OUTBOX.c.id).where(OUTBOX.c.status == "pending").order_by(OUTBOX.c.id).limit(limit)
        return list(self.connection.execute(query).scalars())

    def pending(self, message_id: int) -> dict[str, Any] | None:
        """The message if it is still pending."""
        row = self.connection.execute(select(OUTBOX).where(OUTBOX.c.id == message_id,
                                                           OUTBOX.c.status == "pending")).first()
        return None if row is None else dict(row._mapping)

    def change(self, message_id: int, values: dict[str, Any]) -> None:
        self.connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))

    def mark(self, message_id: int, status: str, at: datetime, attempts: int, error: str = "",
             delivered_on: date | None = None) -> bool:
        """Record a delivery attempt on a message that is still pending (sent → `sent_at`, `delivered_on`);
        False if it was no longer pending."""
        values: dict[str, object] = dict(status=status, attempts=attempts, last_error=error)
        if status == "sent":
            values.update(sent_at=at, delivered_on=delivered_on)
        marked = self.connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id, OUTBOX.c.status == "pending")
                                         .values(**values))
        return bool(marked.rowcount == 1)

    def newest(self, status: str | None, limit: int) -> list[Any]:
        query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
        if status:
            query = query.where(OUTBOX.c.status == status)
        return list(self.connection.execute(query))

    def count_by_status(self) -> dict[str, int]:
        return dict(self.connection.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)).all())
