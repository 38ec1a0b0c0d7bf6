"""The persistence boundary: a `Store` (engine, clock, compiled-policy cache) opens units of work.

A `UnitOfWork` owns one transaction and the repositories over it: services take the
unit of work, never a raw connection, and never build table handles. It commits when
its block ends normally and rolls back on an exception (or when `discard()` was called,
for dry runs).

A unique-key violation leaves the unit of work as `DuplicateWrite` (rolled back), so callers
can retry or report it without importing SQLAlchemy.

A writing unit of work takes the write lock up front (SQLite: BEGIN IMMEDIATE), so two
writers never interleave a read-modify-write. A reading one (`Store.reading()`) begins
deferred: in WAL mode it reads a snapshot and never queues behind a writer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from dunflow.clock import Clock
from dunflow.store.applies import ApplyRepository
from dunflow.store.bulk import BulkRepository
from dunflow.store.cases import CaseRepository
from dunflow.store.db import READ_ONLY
from dunflow.store.ledger import InvoiceRepository, PaymentRepository
from dunflow.store.outbox import OutboxRepository
from dunflow.store.pauses import PauseRepository
from dunflow.store.reports import ReportQueries
from dunflow.store.versions import CompiledCache, PolicyVersionRepository


class DuplicateWrite(Exception):
    """A unique key was already taken (another worker or command wrote the same row first); nothing was written."""


@dataclass
class Store:
    """One database for one process: how units of work are opened, with one compiled-policy cache."""

    engine: Engine
    clock: Clock
    compiled: CompiledCache = field(default_factory=dict)

    def writing(self) -> UnitOfWork:
        return UnitOfWork(self, read_only=False)

    def reading(self) -> UnitOfWork:
        return UnitOfWork(self, read_only=True)


class UnitOfWork:
    cases: CaseRepository
    invoices: InvoiceRepository
    payments: PaymentRepository
    outbox: OutboxRepository
    pauses: PauseRepository
    versions: PolicyVersionRepository
    reports: ReportQueries
    applies: ApplyRepository
    bulk: BulkRepository

    def __init__(self, store: Store, read_only: bool) -> None:
        self.store, self.read_only, self.clock = store, read_only, store.clock
        self._discarded = False

    def __enter__(self) -> UnitOfWork:
        connection = self.store.engine.connect()
        if self.read_only:
            connection = connection.execution_options(**{READ_ONLY: True})
        self.connection: Connection = connection
        try:
            self._transaction = connection.begin()  # SQLite: may wait for, or give up on, the write lock
        except BaseException:
            connection.close()
            raise
        self.cases, self.outbox = CaseRepository(connection), OutboxRepository(connection)
        self.invoices, self.payments = InvoiceRepository(connection), PaymentRepository(connection)
        self.pauses, self.reports = PauseRepository(connection), ReportQueries(connection)
        self.versions = PolicyVersionRepository(connection, self.store.compiled)
        self.applies = ApplyRepository(connection)
        self.bulk = BulkRepository(connection)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if kind is None and not self._discarded and not self.read_only:
                self._transaction.commit()
            else:
                self._transaction.rollback()
        except IntegrityError as late:  # a constraint checked at commit
            error = late
        finally:
            self.connection.close()
        if isinstance(error, IntegrityError):  # services and the CLI need not know SQLAlchemy's exceptions
            raise DuplicateWrite(str(error.orig)) from error

    def discard(self) -> None:
        """End without committing (a dry run): everything this unit of work wrote is rolled back."""
        self._discarded = True
