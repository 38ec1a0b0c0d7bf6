"""The persistence boundary: a `Store` (engine, clock, compiled-policy cache) opens units of work.

A `UnitOfWork` owns one transaction and the repositories over it: services take the
unit of work, never a raw connection, and never build table handles. It commits when
its block ends normally and rolls back on an exception (or when `discard()` was called,
for dry runs).

A unique-key violation leaves the unit of work as `DuplicateWrite` (rolled back), so callers
can retry or report it without importing SQLAlchemy.

Faults of the database leave it as one of our own exceptions too: a lost deadlock or serialization
conflict (PostgreSQL 40P01/40001) as `Contended`, which `retrying` repeats a bounded number of times, and
a lost connection (server restart, `pg_terminate_backend`) as `ConnectionLost`, a one-line user error:
the transaction rolled back, so running the command again completes the work.

A writing unit of work takes the write lock up front (SQLite: BEGIN IMMEDIATE), so two
writers never interleave a read-modify-write. A reading one (`Store.reading()`) begins
deferred: in WAL mode it reads a snapshot and never queues behind a writer.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Callable, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from dunflow.clock import Clock
from dunflow.domain.law.rates import RateTable
from dunflow.errors import DunflowError
from dunflow.store.applies import ApplyRepository
from dunflow.store.bulk import BulkRepository
from dunflow.store.cases import CaseRepository
from dunflow.store.db import READ_ONLY
from dunflow.store.debts import DebtRepository
from dunflow.store.ledger import InvoiceRepository, PaymentRepository
from dunflow.store.outbox import OutboxRepository
from dunflow.store.pauses import PauseRepository
from dunflow.store.reports import ReportQueries
from dunflow.store.tasks import TaskRepository
from dunflow.store.versions import CompiledCache, PolicyVersionRepository


class DuplicateWrite(Exception):
    """A unique key was already taken (another worker or command wrote the same row first); nothing was written."""


class Contended(Exception):
    """The database chose this transaction as the loser of a deadlock or a serialization conflict; rolled back."""


class ConnectionLost(DunflowError):
    """The database connection broke in the middle of a command; the open transaction was rolled back.

    Not the user's input and not a bug: an operational failure, with its own exit code, so a scheduler can
    tell "rerun later" from "fix the file"."""

    exit_code = 4

    def __init__(self) -> None:
        super().__init__("database connection lost", "the interrupted transaction was rolled back, nothing of it "
                         "was kept; check that the database is up, then run the command again to finish the work")


CONTENDED_CODES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
MAX_ATTEMPTS = 5
log = logging.getLogger("dunflow")
T = TypeVar("T")


def database_fault(error: BaseException) -> Exception | None:
    """Our exception for a driver error that is a fault of the database, not a bug: None for anything else."""
    if not isinstance(error, DBAPIError):
        return None
    if error.connection_invalidated or _lost(error):
        return ConnectionLost()
    if getattr(error.orig, "sqlstate", None) in CONTENDED_CODES or getattr(error.orig, "pgcode", None) in CONTENDED_CODES:
        return Contended(str(error.orig).splitlines()[0] if str(error.orig) else type(error.orig).__name__)
    return None


def _lost(error: DBAPIError) -> bool:
    """psycopg reports a killed backend as `57P01`/`57P02`/`57P03` (admin shutdown…) or, once the socket is gone,
    with no SQLSTATE and a closed connection."""
    state = getattr(error.orig, "sqlstate", None) or ""
    if state.startswith("57P") or state.startswith("08"):
        return True
    connection = getattr(error.orig, "pgconn", None)
    return state == "" and connection is not None and getattr(connection, "status", 0) != 0


def retrying(what: str, work: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """`work()`, repeated when it loses a deadlock or serialization conflict (each attempt is a whole transaction,
    rolled back before the next); logged, with a short growing pause; after `attempts` a user error."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except Contended as conflict:
            if attempt == attempts:
                raise DunflowError(f"{what}: lost {attempts} deadlocks or conflicts with other writers in a row "
                                   f"({conflict}); nothing of it was kept", "run the command again") from None
            log.warning("%s: %s; retrying (attempt %d of %d)", what, conflict, attempt + 1, attempts)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


@dataclass
class Store:
    """One database for one process: how units of work are opened, with one compiled-policy cache."""

    engine: Engine
    clock: Clock
    compiled: CompiledCache = field(default_factory=dict)
    rate_source: Callable[[], RateTable] | None = None  # the shipped and project rates, read when first needed
    _rates: RateTable | None = field(default=None, init=False, repr=False)

    def rates(self) -> RateTable:
        """The reference rates charges are computed with (none known without a `rate_source`: interest is then
        skipped with its reason, never guessed)."""
        if self._rates is None:
            self._rates = self.rate_source() if self.rate_source is not None else RateTable(())
        return self._rates

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
    tasks: TaskRepository
    debts: DebtRepository

    def __init__(self, store: Store, read_only: bool) -> None:
        self.store, self.read_only, self.clock = store, read_only, store.clock
        self._discarded = False

    def __enter__(self) -> UnitOfWork:
        try:
            connection = self.store.engine.connect()
        except DBAPIError as error:
            fault = database_fault(error)
            if fault is None:
                raise
            raise fault from error
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
        self.tasks = TaskRepository(connection)
        self.debts = DebtRepository(connection)
        return self

    def commit_lazily(self) -> None:
        """Let this transaction's commit return before its WAL record is on disk (PostgreSQL's
        `synchronous_commit = off`, for this transaction only). The commit stays atomic and is kept when dunflow
        itself is killed; only a crash of the database server within its WAL writer delay (~0.2-0.6 s) can undo
        it. For delivery receipts, whose loss means a message is delivered again under the same Message-ID /
        Idempotency-Key: the same promise SQLite's `synchronous=NORMAL` gives, and one disk flush less per
        message on channels recorded one by one."""
        if self.connection.dialect.name == "postgresql":
            self.connection.exec_driver_sql("SET LOCAL synchronous_commit = off")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if kind is None and not self._discarded and not self.read_only:
                self._transaction.commit()
            else:
                self._transaction.rollback()
        except IntegrityError as late:  # a constraint checked at commit
            error = late
        except DBAPIError as late:  # the commit lost a conflict, or the connection is gone (rollback too)
            if database_fault(late) is None:
                raise
            if error is None or database_fault(error) is None:
                error = late
        finally:
            try:
                self.connection.close()
            except DBAPIError:
                pass  # a broken connection: already gone
        if isinstance(error, IntegrityError):  # services and the CLI need not know SQLAlchemy's exceptions
            raise DuplicateWrite(str(error.orig)) from error
        fault = database_fault(error) if error is not None else None
        if fault is not None:
            raise fault from error

    def discard(self) -> None:
        """End without committing (a dry run): everything this unit of work wrote is rolled back."""
        self._discarded = True
