"""Outcomes of a batch → rendered messages in the outbox.

Without grouping, each case that reached a step gets its own notice. With
`group_per_debtor`, the regular steps of one debtor, currency and policy
version become one notice listing all the debtor's overdue invoices in that
currency, at the highest step any of them reached. Escalations and installment
reminders are never grouped: they concern one invoice.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import Connection, insert, select

from dunflow.domain.money import Money
from dunflow.domain.notice import (
    Creditor,
    Debtor,
    Delivery,
    InvoiceLine,
    NoticeFacts,
    choose_channels,
    invoice_line,
)
from dunflow.domain.policy import NOT_DUNNED, Step
from dunflow.engine.advance import Outcome
from dunflow.errors import DunflowError
from dunflow.policy.versions import CompiledVersions
from dunflow.rendering.templates import TemplateStore
from dunflow.store.orm import Case, Invoice, OutboxMessage, table_of
from dunflow.store.orm import Debtor as DebtorRow

CASES, INVOICES, DEBTORS, OUTBOX = table_of(Case), table_of(Invoice), table_of(DebtorRow), table_of(OutboxMessage)


@dataclass
class Notice:
    """One notice to render: who, which step, which invoices, and the cases it answers for."""

    key: str
    debtor_id: int
    policy_version_id: int
    step: Step
    invoices: list[InvoiceLine]
    case_ids: list[int]
    extra: dict[str, Any] = field(default_factory=dict)
    email: str = ""  # the invoices' own e-mail contact, used before the debtor's


@dataclass
class Messages:
    rows: list[dict[str, Any]] = field(default_factory=list)
    by_case: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    failed: dict[int, DunflowError] = field(default_factory=dict)  # case id → why its notice could not be made


def debtor_from_row(row: Any) -> Debtor:
    tags = frozenset(t for t in (row.tags or "").split(";") if t)
    return Debtor(row.code, row.name, row.type, row.country, row.language or "", row.email or "", row.phone or "",
                  row.address or "", row.postal_code or "", row.city or "", tags, row.credit_rating or "")


def recipient(delivery: Delivery, debtor: Debtor, step: Step) -> str:
    if delivery.channel == "email":
        return debtor.email
    if delivery.channel == "sms":
        return debtor.phone
    if delivery.channel == "letter":
        return f"{debtor.name}\n{debtor.address}\n{debtor.postal_code} {debtor.city}"
    if delivery.channel == "task":
        return getattr(step, "assignee", "") or "collections"
    return debtor.code


class NoticeWriter:
    def __init__(self, connection: Connection, versions: CompiledVersions, templates: TemplateStore,
                 creditor: Creditor, as_of: date, now: datetime) -> None:
        self.connection, self.versions, self.templates = connection, versions, templates
        self.creditor, self.as_of, self.now = creditor, as_of, now

    def write(self, outcomes: list[Outcome]) -> Messages:
        notices = self.notices(outcomes)
        debtors = self._debtors({n.debtor_id for n in notices})
        messages = Messages()
        for notice in notices:
            try:
                self._render(notice, debtors[notice.debtor_id], messages)
            except DunflowError as exc:  # one bad notice: its cases are left behind, the others go on
                messages.failed.update(dict.fromkeys(notice.case_ids, exc))
        if messages.rows:
            self.connection.execute(insert(OUTBOX), messages.rows)
        return messages

    def notices(self, outcomes: list[Outcome]) -> list[Notice]:
        """Invoices with their own e-mail contact are grouped per contact: each notice goes to one address."""
        single: list[Notice] = []
        grouped: dict[tuple[int, str, int, str], list[Outcome]] = {}
        emails = self._invoice_emails([o.facts.invoice_id for o in outcomes if o.notice is not None])
        for outcome in outcomes:
            if outcome.notice is None or (outcome.escalated and not outcome.notice.channels):
                continue
            facts, email = outcome.facts, emails.get(outcome.facts.invoice_id, "")
            policy = self.versions.get(facts.policy_version_id).policy
            if policy.settings.group_per_debtor and not outcome.escalated and outcome.notice.kind != "installment":
                grouped.setdefault((facts.debtor_id, facts.currency, facts.policy_version_id, email), []).append(outcome)
            else:
                single.append(Notice(f"case:{facts.case_id}:r{facts.revision}:{outcome.notice.id}",
                                     facts.debtor_id, facts.policy_version_id, outcome.notice, [self._line(facts)],
                                     [facts.case_id], dict(outcome.extra), email))
        return single + self._group_notices(grouped)

    def _invoice_emails(self, invoice_ids: list[int]) -> dict[int, str]:
        if not invoice_ids:
            return {}
        query = select(INVOICES.c.id, INVOICES.c.email).where(INVOICES.c.id.in_(invoice_ids), INVOICES.c.email != "")
        return {row.id: row.email for row in self.connection.execute(query) if row.email}

    def _line(self, facts: Any) -> InvoiceLine:
        return invoice_line(facts.number, facts.issue_date, facts.due_date, Money(facts.amount, facts.currency),
                            Money(facts.open_amount, facts.currency), self.as_of)

    def _group_notices(self, groups: dict[tuple[int, str, int, str], list[Outcome]]) -> list[Notice]:
        if not groups:
            return []
        others = self._other_overdue({debtor for debtor, _, _, _ in groups})
        notices: list[Notice] = []
        for (debtor_id, currency, version_id, email), members in groups.items():
            compiled = self.versions.get(version_id)
            advancing = {o.facts.case_id for o in members}
            extra = [row for row in others.get((debtor_id, currency, version_id), [])
                     if row.id not in advancing and (row.email or "") == email]
            level = max([compiled.reached_index(o.state) for o in members] +
                        [compiled.reached_index(row.state) for row in extra if row.state in compiled.dunning_states])
            first = members[0].facts
            lines = [self._line(o.facts) for o in members] + [self._line(row) for row in extra]
            lines.sort(key=lambda line: (line.due_date, line.number))
            notices.append(Notice(f"group:{debtor_id}:{currency}:case:{first.case_id}:r{first.revision}",
                                  debtor_id, version_id, compiled.policy.steps[level], lines, sorted(advancing),
                                  email=email))
        return notices

    def _other_overdue(self, debtor_ids: set[int]) -> dict[tuple[int, str, int], list[Any]]:
        query = (
            select(CASES.c.id, CASES.c.state, CASES.c.debtor_id, CASES.c.policy_version_id, INVOICES.c.number,
                   INVOICES.c.currency, INVOICES.c.amount, INVOICES.c.open_amount, INVOICES.c.issue_date,
                   INVOICES.c.due_date, INVOICES.c.email)
            .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
            .where(CASES.c.debtor_id.in_(debtor_ids), INVOICES.c.due_date < self.as_of,
                   CASES.c.state.not_in(NOT_DUNNED))
        )
        found: dict[tuple[int, str, int], list[Any]] = {}
        for row in self.connection.execute(query):
            found.setdefault((row.debtor_id, row.currency, row.policy_version_id), []).append(row)
        return found

    def _debtors(self, ids: Iterable[int]) -> dict[int, Debtor]:
        id_list = list(ids)
        if not id_list:
            return {}
        rows = self.connection.execute(select(DEBTORS).where(DEBTORS.c.id.in_(id_list)))
        return {row.id: debtor_from_row(row) for row in rows}

    def _render(self, notice: Notice, debtor: Debtor, messages: Messages) -> None:
        if notice.email:  # the invoice's own contact comes before the debtor's
            debtor = replace(debtor, email=notice.email)
        compiled = self.versions.get(notice.policy_version_id)
        policy, step = compiled.policy, notice.step
        language = self.templates.language_for(step.template, debtor.language, policy.settings.language)
        facts = NoticeFacts(debtor, self.creditor, tuple(notice.invoices), step, policy, compiled.version,
                            self.as_of, language, notice.extra)
        rendered = self.templates.render(step.template, language, facts.context())
        for delivery in choose_channels(step, debtor):
            key = f"{notice.key}:{delivery.channel}"
            messages.rows.append(dict(
                key=key, debtor_id=notice.debtor_id, channel=delivery.channel,
                recipient=recipient(delivery, debtor, step), language=language, template=step.template,
                step=step.id, subject=rendered.subject, body=rendered.body,
                invoice_numbers=[line.number for line in notice.invoices],
                open_amounts={line.number: str(line.open_amount.amount) for line in notice.invoices}, status="pending",
                created_on=self.as_of, created_at=self.now, attempts=0, routing=delivery.reason))
            for case_id in notice.case_ids:
                messages.by_case.setdefault(case_id, []).append((delivery.channel, key))
