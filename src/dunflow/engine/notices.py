"""Outcomes of a batch → rendered messages in the outbox.

Without grouping, each case that reached a step gets its own notice. With
`group_per_debtor`, the regular steps of one debtor, currency and policy become
one notice at the highest step due today (courtesy notes apart, for invoices not
yet due); see `grouping` for which invoices it lists. Escalations and
installment reminders are never grouped: they concern one invoice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
from dunflow.domain.policy import Step
from dunflow.engine.advance import Outcome
from dunflow.engine.grouping import Lifter, group_key
from dunflow.policy.versions import CompiledVersions
from dunflow.rendering.templates import TemplateStore
from dunflow.store.orm import OutboxMessage, table_of
from dunflow.store.orm import Debtor as DebtorRow

DEBTORS, OUTBOX = table_of(DebtorRow), table_of(OutboxMessage)


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


@dataclass
class Messages:
    rows: list[dict[str, Any]] = field(default_factory=list)
    by_case: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    companions: list[Outcome] = field(default_factory=list)


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
        """Render and queue the notices of `outcomes`; `companions` are the outcomes of other invoices a
        grouped notice lifted to its step (the caller records and saves them like its own)."""
        notices, companions = self.notices(outcomes)
        debtors = self._debtors({n.debtor_id for n in notices})
        messages = Messages(companions=companions)
        for notice in notices:
            self._render(notice, debtors[notice.debtor_id], messages)
        if messages.rows:
            self.connection.execute(insert(OUTBOX), messages.rows)
        return messages

    def notices(self, outcomes: list[Outcome]) -> tuple[list[Notice], list[Outcome]]:
        single: list[Notice] = []
        grouped: dict[tuple[Any, ...], list[Outcome]] = {}
        for outcome in outcomes:
            if outcome.notice is None or (outcome.escalated and not outcome.notice.channels):
                continue
            facts = outcome.facts
            policy = self.versions.get(facts.policy_version_id).policy
            if policy.settings.group_per_debtor and not outcome.escalated and outcome.notice.kind != "installment":
                grouped.setdefault(group_key(facts, policy, outcome.notice), []).append(outcome)
            else:
                single.append(Notice(f"case:{facts.case_id}:r{facts.revision}:{outcome.notice.id}",
                                     facts.debtor_id, facts.policy_version_id, outcome.notice, [self._line(facts)],
                                     [facts.case_id], dict(outcome.extra)))
        if not grouped:
            return single, []
        lifter = Lifter(self.connection, self.versions, self.as_of, outcomes, {key[0] for key in grouped})
        notices = [self._group_notice(lifter, members) for members in grouped.values()]
        return single + notices, lifter.companions

    def _line(self, facts: Any) -> InvoiceLine:
        return invoice_line(facts.number, facts.issue_date, facts.due_date, Money(facts.amount, facts.currency),
                            Money(facts.open_amount, facts.currency), self.as_of)

    def _group_notice(self, lifter: Lifter, members: list[Outcome]) -> Notice:
        """One notice at the highest step any member is due; every invoice it lists is moved to that step."""
        version_id = max(o.facts.policy_version_id for o in members)
        step = self.versions.get(version_id).policy.all_steps[max(
            self.versions.get(version_id).policy.step_index(o.notice.id) for o in members if o.notice)]
        listed = [lifter.raise_member(o, step) for o in members]
        if not step.is_courtesy:  # a courtesy note is about invoices not yet due; it lifts nobody
            listed += lifter.lift_others(members, step)
        lines = sorted((self._line(o.facts) for o in listed), key=lambda line: (line.due_date, line.number))
        first = members[0].facts
        return Notice(f"group:{first.debtor_id}:{first.currency}:case:{first.case_id}:r{first.revision}",
                      first.debtor_id, version_id, step, lines, sorted(o.facts.case_id for o in listed))

    def _debtors(self, ids: Iterable[int]) -> dict[int, Debtor]:
        id_list = list(ids)
        if not id_list:
            return {}
        rows = self.connection.execute(select(DEBTORS).where(DEBTORS.c.id.in_(id_list)))
        return {row.id: debtor_from_row(row) for row in rows}

    def _render(self, notice: Notice, debtor: Debtor, messages: Messages) -> None:
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
