"""The read side's queries: the portfolio per policy and state, what falls due, one invoice's timeline."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, func, select

from dunflow.store.orm import (
    Action,
    Allocation,
    Case,
    Debtor,
    Invoice,
    OutboxMessage,
    PolicyVersion,
    table_of,
)

CASES, INVOICES, DEBTORS = table_of(Case), table_of(Invoice), table_of(Debtor)
ACTIONS, VERSIONS, OUTBOX = table_of(Action), table_of(PolicyVersion), table_of(OutboxMessage)
ALLOCATIONS = table_of(Allocation)


class ReportQueries:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def cases_per_policy_and_state(self) -> list[tuple[str, str, int]]:
        """Counted per policy version and state from `ix_cases_version_state` alone (an index-only scan, no
        join with a million case rows), then added up per policy name over the few versions."""
        names = dict(self.connection.execute(select(VERSIONS.c.id, VERSIONS.c.name)).all())
        totals: dict[tuple[str, str], int] = {}
        for version, state, count in self.connection.execute(
                select(CASES.c.policy_version_id, CASES.c.state, func.count())
                .group_by(CASES.c.policy_version_id, CASES.c.state)):
            key = (names[version], state)
            totals[key] = totals.get(key, 0) + count
        return [(name, state, count) for (name, state), count in sorted(totals.items())]

    def due_per_day(self, until: date) -> list[tuple[date, int]]:
        """Cases per `next_action_at` up to `until` (through its index)."""
        rows = self.connection.execute(
            select(CASES.c.next_action_at, func.count()).where(CASES.c.next_action_at <= until)
            .group_by(CASES.c.next_action_at).order_by(CASES.c.next_action_at))
        return [(on, count) for on, count in rows]

    def invoice(self, number: str) -> Any:
        """The invoice with its debtor, case and policy version, or None."""
        return self.connection.execute(
            select(INVOICES, DEBTORS.c.code.label("debtor_code"), DEBTORS.c.name.label("debtor_name"),
                   CASES.c.id.label("case_id"), CASES.c.state, CASES.c.resume_state, CASES.c.next_action_at,
                   CASES.c.last_step_on, CASES.c.repeats, CASES.c.delivered_state, CASES.c.policy_version_id,
                   VERSIONS.c.name.label("policy"),
                   VERSIONS.c.version.label("policy_version"))
            .join(DEBTORS, DEBTORS.c.id == INVOICES.c.debtor_id)
            .join(CASES, CASES.c.invoice_id == INVOICES.c.id)
            .join(VERSIONS, VERSIONS.c.id == CASES.c.policy_version_id)
            .where(INVOICES.c.number == number)).first()

    def actions(self, case_id: int) -> list[Any]:
        """The case's audit trail in order, with the policy version number of each entry and, for a queued
        notice, what became of its message."""
        return list(self.connection.execute(
            select(ACTIONS, VERSIONS.c.version, OUTBOX.c.status.label("message_status"), OUTBOX.c.delivered_on,
                   OUTBOX.c.sent_at, OUTBOX.c.last_error, OUTBOX.c.attempts)
            .outerjoin(VERSIONS, VERSIONS.c.id == ACTIONS.c.policy_version_id)
            .outerjoin(OUTBOX, and_(OUTBOX.c.key == ACTIONS.c.message_key, ACTIONS.c.status == "queued"))
            .where(ACTIONS.c.case_id == case_id).order_by(ACTIONS.c.id)))

    def debtor(self, code: str) -> Any:
        return self.connection.execute(select(DEBTORS).where(DEBTORS.c.code == code)).first()

    def invoice_numbers_of(self, debtor_id: int) -> list[str]:
        return list(self.connection.execute(select(INVOICES.c.number).where(INVOICES.c.debtor_id == debtor_id)
                                            .order_by(INVOICES.c.due_date, INVOICES.c.number)).scalars())

    def notice_timeline(self) -> list[Any]:
        """Every notice the runner queued (steps and escalations, not skipped): day, invoice, step, channel, rule."""
        return list(self.connection.execute(
            select(ACTIONS.c.at, INVOICES.c.number, ACTIONS.c.step, ACTIONS.c.channel, ACTIONS.c.rule, ACTIONS.c.id)
            .join(CASES, CASES.c.id == ACTIONS.c.case_id).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
            .where(ACTIONS.c.kind.in_(("step", "escalation")), ACTIONS.c.status != "skipped")
            .order_by(ACTIONS.c.at, INVOICES.c.number, ACTIONS.c.id)))

    def receivables(self) -> list[Any]:
        """Every invoice with its debtor's code and type (the credit-management reports' portfolio), by number."""
        return list(self.connection.execute(
            select(INVOICES.c.id, INVOICES.c.number, INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount,
                   INVOICES.c.issue_date, INVOICES.c.due_date, DEBTORS.c.code.label("debtor"),
                   DEBTORS.c.type.label("segment"))
            .join(DEBTORS, DEBTORS.c.id == INVOICES.c.debtor_id).order_by(INVOICES.c.number)))

    def allocations(self) -> list[tuple[int, date, Any]]:
        """(invoice id, day, amount) of every allocation (payments, credit notes; returns are negative), in order."""
        rows = self.connection.execute(select(ALLOCATIONS.c.invoice_id, ALLOCATIONS.c.on, ALLOCATIONS.c.amount)
                                       .order_by(ALLOCATIONS.c.on, ALLOCATIONS.c.id))
        return [(invoice, on, amount) for invoice, on, amount in rows]

    def delivered_messages(self) -> list[Any]:
        """Every delivered message: the day the ladder counts from, channel, step, the invoices it listed."""
        return list(self.connection.execute(
            select(OUTBOX.c.delivered_on, OUTBOX.c.channel, OUTBOX.c.step, OUTBOX.c.invoice_numbers,
                   DEBTORS.c.type.label("segment"))
            .join(DEBTORS, DEBTORS.c.id == OUTBOX.c.debtor_id)
            .where(OUTBOX.c.status == "sent").order_by(OUTBOX.c.delivered_on, OUTBOX.c.id)))

    def debtor_segments(self) -> dict[int, str]:
        """Debtor id → customer type (business, consumer): the segment a payment model may name."""
        return {debtor: kind for debtor, kind in self.connection.execute(select(DEBTORS.c.id, DEBTORS.c.type))}

    def next_due_on(self) -> date | None:
        """The earliest `next_action_at` of any case (through its index): the next day a run has work."""
        return self.connection.execute(select(func.min(CASES.c.next_action_at))).scalar()
