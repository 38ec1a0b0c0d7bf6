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
from decimal import Decimal
from typing import Any, Iterable

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
from dunflow.domain.policy import NOT_DUNNED, Settings, Step
from dunflow.engine.advance import Outcome
from dunflow.errors import DunflowError
from dunflow.rendering.templates import TemplateStore
from dunflow.store.uow import UnitOfWork


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
    def __init__(self, uow: UnitOfWork, templates: TemplateStore, creditor: Creditor, as_of: date,
                 now: datetime) -> None:
        self.uow, self.versions, self.templates = uow, uow.versions, templates
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
        self.uow.outbox.add(messages.rows)
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
            policy = self.versions.compiled(facts.policy_version_id).policy
            if policy.settings.group_per_debtor and not outcome.escalated and outcome.notice.kind != "installment":
                grouped.setdefault((facts.debtor_id, facts.currency, facts.policy_version_id, email), []).append(outcome)
            else:
                single.append(Notice(f"case:{facts.case_id}:r{facts.revision}:{outcome.notice.id}",
                                     facts.debtor_id, facts.policy_version_id, outcome.notice, [self._line(facts)],
                                     [facts.case_id], dict(outcome.extra), email))
        stopped = {o.facts.case_id for o in outcomes if o.state in NOT_DUNNED}  # e.g. below the minimum today
        return single + self._group_notices(grouped, stopped)

    def _invoice_emails(self, invoice_ids: list[int]) -> dict[int, str]:
        return self.uow.cases.invoice_emails(invoice_ids)

    def _line(self, facts: Any) -> InvoiceLine:
        return invoice_line(facts.number, facts.issue_date, facts.due_date, Money(facts.amount, facts.currency),
                            Money(facts.open_amount, facts.currency), self.as_of)

    def _group_notices(self, groups: dict[tuple[int, str, int, str], list[Outcome]],
                       stopped: set[int]) -> list[Notice]:
        """One notice per debtor, currency, policy version and invoice e-mail contact, listing the other invoices
        still dunned: not those this batch stopped dunning, nor those below the policy's minimum (never dunned,
        unless the debtor's overdue total reaches the policy's `debtor_minimum`)."""
        if not groups:
            return []
        others = self._other_overdue({debtor for debtor, _, _, _ in groups})
        notices: list[Notice] = []
        for (debtor_id, currency, version_id, email), members in groups.items():
            compiled = self.versions.compiled(version_id)
            advancing = {o.facts.case_id for o in members}
            minimum = self._minimum(compiled.policy.settings, currency, debtor_id, others)
            extra = [row for row in others.get((debtor_id, currency, version_id), [])
                     if row.id not in advancing | stopped and row.open_amount >= minimum
                     and (row.email or "") == email]
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
        found: dict[tuple[int, str, int], list[Any]] = {}
        for row in self.uow.cases.overdue_of_debtors(debtor_ids, self.as_of, NOT_DUNNED):
            found.setdefault((row.debtor_id, row.currency, row.policy_version_id), []).append(row)
        return found

    @staticmethod
    def _minimum(settings: Settings, currency: str, debtor_id: int,
                 others: dict[tuple[int, str, int], list[Any]]) -> Decimal:
        """The smallest open amount listed: the policy minimum, or nothing when the policy has a debtor minimum
        the debtor's overdue invoices in this currency reach together (then the small ones are dunned too)."""
        minimum: Decimal = settings.minimum_for(currency)
        threshold = settings.debtor_minimum_for(currency)
        if threshold is None:
            return minimum
        total = sum((row.open_amount for (debtor, cur, _), rows in others.items() if debtor == debtor_id
                     and cur == currency for row in rows), Decimal(0))
        return Decimal(0) if total >= threshold else minimum

    def _debtors(self, ids: Iterable[int]) -> dict[int, Debtor]:
        return {debtor_id: debtor_from_row(row) for debtor_id, row in self.uow.invoices.debtors_by_id(ids).items()}

    def _render(self, notice: Notice, debtor: Debtor, messages: Messages) -> None:
        if notice.email:  # the invoice's own contact comes before the debtor's
            debtor = replace(debtor, email=notice.email)
        compiled = self.versions.compiled(notice.policy_version_id)
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
