"""The database tables (SQLAlchemy 2 typed ORM). The schema itself is owned by alembic migrations.

Amounts are exact: NUMERIC on PostgreSQL; on SQLite, which has no decimal type
and would go through a float, they are stored as text and read back as Decimal.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dunflow.store.types import Amount


class Base(DeclarativeBase):
    pass


class PolicyVersion(Base):
    """Every distinct content of a policy file gets a version; cases keep the version they run under."""

    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("name", "version"), UniqueConstraint("name", "content_hash"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Debtor(Base):
    __tablename__ = "debtors"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[str] = mapped_column(String(500), default="")
    credit_rating: Mapped[str] = mapped_column(String(10), default="")


class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Amount())
    open_amount: Mapped[Decimal] = mapped_column(Amount())
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the invoice's own contact, if any


class Case(Base):
    """One dunning case per invoice: where it stands in its policy's machine and when to look again."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_next_action_at", "next_action_at"),
                      Index("ix_cases_version_state", "policy_version_id", "state"))  # `status`: index-only counts
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id"))
    state: Mapped[str] = mapped_column(String(64))
    resume_state: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_step_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # when delivered_state's notice arrived
    delivered_state: Mapped[str] = mapped_column(String(64), default="new", server_default="new")
    next_action_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # sendings of a repeating step after its first


class Action(Base):
    """The audit trail: every step, skip and event, why it happened, under which policy version."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_message_key", "message_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(16), default="")
    at: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"), nullable=True)
    from_state: Mapped[str] = mapped_column(String(64), default="")
    to_state: Mapped[str] = mapped_column(String(64), default="")
    rule: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100), default="dunflow")
    message_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)


class OutboxMessage(Base):
    """A rendered message waiting for (or done with) delivery; its key makes delivery exactly-once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(200))
    step: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)  # e-mail: the HTML part (templates/email-layout.html.j2)
    # the charges the text was rendered with (`domain.notice.charges_digest`); NULL: rendered before it was kept
    charges_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    invoice_numbers: Mapped[list[str]] = mapped_column(JSON)
    open_amounts: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)  # as rendered; checked before sending
    routing: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # the day the ladder counts from
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # delivery states (pending → claimed → sent | retry | dead): a claim is a lease that expires
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    dead_reason: Mapped[str] = mapped_column(Text, default="", server_default="")


class DeliveryAttempt(Base):
    """One try to deliver one outbox message: when, by which sender, how it went and where it went."""

    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))  # sent | retry | dead | withdrawn
    reason: Mapped[str] = mapped_column(Text, default="")
    where: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(100), default="")


class CaseFailure(Base):
    """A case whose notice could not be made (a template error): left as it was, retried by every run until it
    goes through. Stale once the case's revision moved on (an event or a later run changed it)."""

    __tablename__ = "case_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    case_revision: Mapped[int] = mapped_column(Integer)
    first_failed_on: Mapped[date] = mapped_column(Date)
    failed_on: Mapped[date] = mapped_column(Date)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text, default="")


class Run(Base):
    """One `dunflow run`: its date, how far it got. A run dated before the last one is refused."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    cases_advanced: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)


class Payment(Base):
    """A payment or credit note as received; `unallocated` is what is left after matching (a credit if > 0)."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="payment")  # payment | credit_note
    booked_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(Text, default="")
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    payer_iban: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    debtor_id: Mapped[int | None] = mapped_column(ForeignKey("debtors.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16))  # matched | unmatched | credit | reversed | return
    matched_by: Mapped[str] = mapped_column(String(100), default="")
    unallocated: Mapped[Decimal] = mapped_column(Amount())
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_to_end_id: Mapped[str] = mapped_column(String(200), default="", index=True)  # the payer's, not a key
    reversed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    reversal_reason: Mapped[str] = mapped_column(Text, default="")


class DebtorIban(Base):
    """An account a debtor pays from: given in the debtor import or learned when a payment is assigned."""

    __tablename__ = "debtor_ibans"
    __table_args__ = (UniqueConstraint("debtor_id", "iban"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"))
    iban: Mapped[str] = mapped_column(String(34), index=True)
    learned_from: Mapped[str] = mapped_column(String(200), default="")


class Allocation(Base):
    """Part of a payment applied to one invoice."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount())
    on: Mapped[date] = mapped_column(Date)


class Dispute(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    opened_on: Mapped[date] = mapped_column(Date)
    opened_by: Mapped[str] = mapped_column(String(100))
    resolved_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    resolution: Mapped[str] = mapped_column(String(16), default="")  # resume | cancel
    note: Mapped[str] = mapped_column(Text, default="")


class Promise(Base):
    __tablename__ = "promises"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    pay_by: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal | None] = mapped_column(Amount(), nullable=True)
    made_on: Mapped[date] = mapped_column(Date)
    made_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | kept | broken


class Hold(Base):
    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    until: Mapped[date | None] = mapped_column(Date, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_on: Mapped[date] = mapped_column(Date)
    placed_by: Mapped[str] = mapped_column(String(100))
    released_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Arrangement(Base):
    """A payment plan: its invoices leave the normal steps and its installments are watched."""

    __tablename__ = "arrangements"
    id: Mapped[int] = mapped_column(primary_key=True)
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Amount())
    every: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | completed | defaulted
    missed: Mapped[int] = mapped_column(Integer, default=0)
    created_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))


class ArrangementInvoice(Base):
    __tablename__ = "arrangement_invoices"
    arrangement_id: Mapped[int] = mapped_column(ForeignKey("arrangements.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True)


class Installment(Base):
    __tablename__ = "installments"
    __table_args__ = (UniqueConstraint("arrangement_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    arrangement_id: Mapped[int] = mapped_column(ForeignKey("arrangements.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Amount())
    paid: Mapped[Decimal] = mapped_column(Amount())
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | paid | missed


class Task(Base):
    """Work for a person: call the debtor, find an address, hand over to the account manager, or see to a required
    message whose delivery ended dead. One per message key at most (a repeated delivery finds the same task)."""

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # call | find_address | account_manager | delivery_failed
    debtor_id: Mapped[int] = mapped_column(ForeignKey("debtors.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), nullable=True)
    message_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    step: Mapped[str] = mapped_column(String(64), default="", server_default="")
    assignee: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open", index=True)  # open | done
    outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")  # contacted | no_answer | ...
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Debt(Base):
    """Per invoice: the dates its charges are timed from (first notice, the Dutch 14-day letter) and the last day
    interest was booked through. A row exists once a notice about the invoice was delivered."""

    __tablename__ = "debts"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    first_notice_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    letter_on: Mapped[date | None] = mapped_column(Date, nullable=True)  # the 14-day letter was delivered
    interest_to: Mapped[date | None] = mapped_column(Date, nullable=True)


class DebtLine(Base):
    """One booked charge of an invoice (fee, interest, compensation, collection costs); never the principal.
    `source_key` makes a booking exactly-once: a repeated or concurrent run books the same key once."""

    __tablename__ = "debt_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(3))
    booked_on: Mapped[date] = mapped_column(Date)
    basis: Mapped[dict[str, object]] = mapped_column(JSON)
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DebtLinePayment(Base):
    """Part of a payment applied to one charge line (negative: a reversal gave it back)."""

    __tablename__ = "debt_line_payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("debt_lines.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), nullable=True, index=True)
    amount: Mapped[Decimal] = mapped_column(Amount())
    on: Mapped[date] = mapped_column(Date)


class CollectionCase(Base):
    """An invoice handed over to a collection agency (`in_collection`) or called back (`recalled`)."""

    __tablename__ = "collection_cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    agency: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # in_collection | recalled
    handed_on: Mapped[date] = mapped_column(Date)
    recalled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    recall_reason: Mapped[str] = mapped_column(Text, default="")
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CollectionReported(Base):
    """A payment allocation already reported to the agency in an export (later exports report only new ones)."""

    __tablename__ = "collection_reported"
    __table_args__ = (UniqueConstraint("collection_case_id", "allocation_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    collection_case_id: Mapped[int] = mapped_column(ForeignKey("collection_cases.id"))
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def table_of(model: type[Base]) -> Table:
    """The Core table behind a model, typed as such (for bulk `insert`/`update` on the hot paths)."""
    return cast(Table, model.__table__)
