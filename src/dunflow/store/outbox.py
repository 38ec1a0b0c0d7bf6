"""The outbox: messages queued by the run, withdrawn by events, delivered by `send`.

A message's `status` is its delivery state: `pending` (queued) → `claimed` (a sender holds a lease on it until
`lease_until`) → `sent` | `retry` (waits for `next_attempt_at`) | `dead` (no more attempts; `dead_reason`), or
`cancelled` (withdrawn before delivery). `next_attempt_at` (NULL: at once) is when a pending or retry message may
go out next: backoff and any later deferral use it. Every attempt is a row in `delivery_attempts`.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from dunflow.store.orm import DeliveryAttempt, OutboxMessage, table_of
from dunflow.store.rows import insert_rows

OUTBOX = table_of(OutboxMessage)
ATTEMPTS = table_of(DeliveryAttempt)
WAITING = ("pending", "claimed", "retry")  # not delivered yet, still on its way
READY = ("pending", "retry")  # may be claimed once `next_attempt_at` has come

# built once: a statement reused keeps its cache key, so it is not built and compiled again per delivery
_FINISH_SENT = (update(OUTBOX).where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)), OUTBOX.c.status == "claimed",
                                     OUTBOX.c.claimed_by == bindparam("worker"))
                .values(status="sent", sent_at=bindparam("sent_at"), delivered_on=bindparam("delivered_on"),
                        attempts=bindparam("attempts"), next_attempt_at=None, claimed_by=None, lease_until=None)
                .returning(OUTBOX.c.id))


class OutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(OUTBOX), rows)

    def pending_of_debtor(self, debtor_id: int) -> list[Any]:
        """(id, key, invoice_numbers) of the debtor's undelivered messages that no sender holds right now."""
        return list(self.connection.execute(select(OUTBOX.c.id, OUTBOX.c.key, OUTBOX.c.invoice_numbers).where(
            OUTBOX.c.status.in_(READY), OUTBOX.c.debtor_id == debtor_id)))

    def withdraw(self, ids: list[int], why: str) -> None:
        if ids:
            self.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.status.in_(READY))
                                    .values(status="cancelled", last_error=why, next_attempt_at=None))

    def _ready(self, now: datetime) -> Any:
        """Claimable now: pending or retry whose time has come, or claimed by a sender whose lease ran out."""
        return or_(and_(OUTBOX.c.status.in_(READY),
                        or_(OUTBOX.c.next_attempt_at.is_(None), OUTBOX.c.next_attempt_at <= now)),
                   and_(OUTBOX.c.status == "claimed", OUTBOX.c.lease_until < now))

    def count_ready(self, now: datetime) -> int:
        return int(self.connection.execute(select(func.count()).select_from(OUTBOX).where(self._ready(now)))
                   .scalar_one())

    def claim(self, worker: str, now: datetime, lease_until: datetime, limit: int) -> list[dict[str, Any]]:
        """Claim up to `limit` ready messages for `worker` in one statement, oldest first; the claimed rows.

        PostgreSQL: the ids are picked `FOR UPDATE SKIP LOCKED`, so concurrent senders take disjoint batches
        without waiting; SQLite: the writing transaction holds the database's write lock (BEGIN IMMEDIATE), so the
        UPDATE ... WHERE status is ready is atomic among senders."""
        chosen = select(OUTBOX.c.id).where(self._ready(now)).order_by(OUTBOX.c.id).limit(limit)
        claim = update(OUTBOX).values(status="claimed", claimed_by=worker, lease_until=lease_until)
        if self.connection.dialect.name == "postgresql":
            # a CTE with a locking clause is evaluated once (an `IN (subquery)` may be re-run per row and claim
            # more than `limit`); SKIP LOCKED: rows another sender is claiming right now are left to it
            picked = chosen.with_for_update(skip_locked=True).cte("picked")
            claim = claim.where(OUTBOX.c.id == picked.c.id)
        else:
            claim = claim.where(OUTBOX.c.id.in_(chosen.scalar_subquery()))
        rows = self.connection.execute(claim.where(self._ready(now)).returning(*OUTBOX.c))  # claimed, as they are now
        return sorted((dict(row._mapping) for row in rows), key=lambda row: row["id"])

    def renew(self, ids: list[int], worker: str, lease_until: datetime) -> None:
        """Extend `worker`'s lease on messages it still holds (a batch that takes long to deliver)."""
        if ids:
            self.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.status == "claimed",
                                                         OUTBOX.c.claimed_by == worker)
                                    .values(lease_until=lease_until))

    def release(self, ids: list[int], worker: str) -> None:
        """Give claimed messages back without an attempt (the sender stopped before trying them)."""
        if ids:
            self.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.status == "claimed",
                                                         OUTBOX.c.claimed_by == worker)
                                    .values(status="pending", claimed_by=None, lease_until=None))

    def pending_ids(self, limit: int | None = None) -> list[int]:
        query = select(OUTBOX.c.id).where(OUTBOX.c.status == "pending").order_by(OUTBOX.c.id).limit(limit)
        return list(self.connection.execute(query).scalars())

    def pending(self, message_id: int) -> dict[str, Any] | None:
        """The message if it is still pending."""
        row = self.connection.execute(select(OUTBOX).where(OUTBOX.c.id == message_id,
                                                           OUTBOX.c.status == "pending")).first()
        return None if row is None else dict(row._mapping)

    def get(self, message_id: int) -> Any | None:
        return self.connection.execute(select(OUTBOX).where(OUTBOX.c.id == message_id)).first()

    def change(self, message_id: int, values: dict[str, Any]) -> None:
        self.connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))

    def finish(self, message_id: int, worker: str, values: dict[str, Any]) -> bool:
        """End `worker`'s claim on a message with `values` (status sent, retry or dead…); False when the claim was
        no longer its own (the lease ran out and another sender took the message)."""
        done = self.connection.execute(update(OUTBOX).where(
            OUTBOX.c.id == message_id, OUTBOX.c.status == "claimed", OUTBOX.c.claimed_by == worker)
            .values(claimed_by=None, lease_until=None, **values))
        return bool(done.rowcount == 1)

    def finish_sent(self, sent: list[tuple[int, int, date]], worker: str, at: datetime) -> set[int]:
        """Mark delivered messages sent (id, attempts, delivered_on) where `worker` still holds the claim, one
        statement per delivery day; the ids so marked."""
        finished: set[int] = set()
        groups: dict[tuple[int, date], list[int]] = {}
        for message_id, attempts, delivered_on in sent:
            groups.setdefault((attempts, delivered_on), []).append(message_id)
        for (attempts, delivered_on), ids in groups.items():
            finished |= set(self.connection.execute(_FINISH_SENT, dict(
                ids=ids, worker=worker, sent_at=at, delivered_on=delivered_on, attempts=attempts)).scalars())
        return finished

    def record_attempts(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self.connection, ATTEMPTS, rows)

    def attempts_of(self, message_id: int) -> list[Any]:
        return list(self.connection.execute(select(ATTEMPTS).where(ATTEMPTS.c.message_id == message_id)
                                            .order_by(ATTEMPTS.c.id)))

    def requeue(self, ids: list[int] | None, *, dead: bool) -> list[int]:
        """Put messages back in the queue (pending, due at once, attempts counted from 0 again): the given ids if
        they are dead or waiting for a retry, or every dead message; the ids re-queued."""
        where = [OUTBOX.c.status.in_(("dead",) if dead or ids is None else ("dead", "retry"))]
        if ids is not None:
            where.append(OUTBOX.c.id.in_(ids))
        return list(self.connection.execute(
            update(OUTBOX).where(*where).values(status="pending", next_attempt_at=None, attempts=0, dead_reason="",
                                                claimed_by=None, lease_until=None).returning(OUTBOX.c.id)).scalars())

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
