"""Outcomes of a batch → rendered messages in the outbox.

Without grouping, each case that reached a step gets its own notice. With
`group_per_debtor`, the regular steps of one debtor, currency and policy become
one notice at the highest step due today (courtesy notes apart, for invoices not
yet due); see `grouping` for which invoices it lists. Escalations and
installment reminders are never grouped: they concern one invoice.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Iterable

from dunflow.domain.debt import charges_anything
from dunflow.domain.links import PaymentLinks
from dunflow.domain.money import Money
from dunflow.domain.notice import (
    ChargeLine,
    Creditor,
    Debtor,
    Delivery,
    InvoiceLine,
    NoticeFacts,
    charges_digest,
    choose_channels,
    invoice_line,
)
from dunflow.domain.policy import Step
from dunflow.engine.advance import Outcome
from dunflow.engine.charges import InvoiceDebt, charge_lines, debts, note_refusals
from dunflow.engine.grouping import Lifter, group_key
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
    def __init__(self, uow: UnitOfWork, templates: TemplateStore, creditor: Creditor, as_of: date,
                 now: datetime, links: PaymentLinks | None = None) -> None:
        self.uow, self.versions, self.templates = uow, uow.versions, templates
        self.creditor, self.as_of, self.now, self.links = creditor, as_of, now, links

    def write(self, outcomes: list[Outcome]) -> Messages:
        """Render and queue the notices of `outcomes`; `companions` are the outcomes of other invoices a
        grouped notice lifted to its step (the caller records and saves them like its own)."""
        notices, companions = self.notices(outcomes)
        debtors = self._debtors({n.debtor_id for n in notices})
        charged = self._debts(notices)
        messages = Messages(companions=companions)
        refused: list[InvoiceDebt] = []  # debts of rendered notices whose interest could not be computed
        for notice in notices:
            try:
                refused += self._render(notice, debtors[notice.debtor_id], messages, charged)
            except DunflowError as exc:  # one bad notice: its cases are left behind, the others go on
                messages.failed.update(dict.fromkeys(notice.case_ids, exc))
        note_refusals(self.uow, refused, self.as_of)  # the audit trail says what the rendered notices did not charge
        messages.companions = [o for o in companions if o.facts.case_id not in messages.failed]
        self.uow.cases.queue_messages(messages.rows)
        return messages

    def notices(self, outcomes: list[Outcome]) -> tuple[list[Notice], list[Outcome]]:
        """The notices of `outcomes`, and the outcomes of other invoices a grouped notice lifted to its step.

        Invoices with their own e-mail contact are grouped per contact: each notice goes to one address."""
        single: list[Notice] = []
        grouped: dict[tuple[Any, ...], list[Outcome]] = {}
        emails = self._invoice_emails([o.facts.invoice_id for o in outcomes])
        for outcome in outcomes:
            if outcome.notice is None or (outcome.escalated and not outcome.notice.channels):
                continue
            facts, email = outcome.facts, emails.get(outcome.facts.invoice_id, "")
            policy = self.versions.compiled(facts.policy_version_id).policy
            if policy.settings.group_per_debtor and not outcome.escalated and outcome.notice.kind != "installment":
                grouped.setdefault(group_key(facts, policy, outcome.notice, email), []).append(outcome)
            else:
                single.append(Notice(f"case:{facts.case_id}:r{facts.revision}:{outcome.notice.id}",
                                     facts.debtor_id, facts.policy_version_id, outcome.notice, [self._line(facts)],
                                     [facts.case_id], dict(outcome.extra), email))
        if not grouped:
            return single, []
        # only overdue notices lift others: a debtor whose grouped notices are all courtesy notes needs no look
        lifting = {key[0] for key in grouped if not key[-2]}
        lifter = Lifter(self.uow, self.as_of, outcomes, lifting, emails)
        notices = [self._group_notice(lifter, members, key[-1]) for key, members in grouped.items()]
        return single + notices, lifter.companions

    def _invoice_emails(self, invoice_ids: list[int]) -> dict[int, str]:
        return self.uow.cases.invoice_emails(invoice_ids)

    def _line(self, facts: Any) -> InvoiceLine:
        return invoice_line(facts.number, facts.issue_date, facts.due_date, Money(facts.amount, facts.currency),
                            Money(facts.open_amount, facts.currency), self.as_of)

    def _group_notice(self, lifter: Lifter, members: list[Outcome], email: str) -> Notice:
        """One notice at the highest step any member is due; every invoice it lists is moved to that step."""
        version_id = max(o.facts.policy_version_id for o in members)
        compiled = self.versions.compiled(version_id)
        policy = compiled.policy
        step = policy.all_steps[max(compiled.reached_index(o.notice.id) for o in members if o.notice)]
        listed = [lifter.raise_member(o, step) for o in members]
        if not step.is_courtesy:  # a courtesy note is about invoices not yet due; it lifts nobody
            listed += lifter.lift_others(members, step, email)
        lines = sorted((self._line(o.facts) for o in listed), key=lambda line: (line.due_date, line.number))
        first = members[0].facts
        return Notice(f"group:{first.debtor_id}:{first.currency}:case:{first.case_id}:r{first.revision}",
                      first.debtor_id, version_id, step, lines, sorted(o.facts.case_id for o in listed), email=email)

    def _debtors(self, ids: Iterable[int]) -> dict[int, Debtor]:
        return {debtor_id: debtor_from_row(row) for debtor_id, row in self.uow.invoices.debtors_by_id(ids).items()}

    def _debts(self, notices: list[Notice]) -> dict[int, list[InvoiceDebt]]:
        """Per case of a notice whose policy charges anything: its invoice's debt as of the run date, for the whole
        batch in a few queries (a policy that charges nothing costs the run no query)."""
        case_ids = [case_id for notice in notices
                    if charges_anything(self.versions.compiled(notice.policy_version_id).policy)
                    for case_id in notice.case_ids]
        if not case_ids:
            return {}
        invoice_of = self.uow.debts.invoice_ids_of_cases(case_ids)
        found = debts(self.uow, invoice_of.values(), self.as_of)
        return {case_id: [found[invoice_id]] for case_id, invoice_id in invoice_of.items() if invoice_id in found}

    def _render(self, notice: Notice, debtor: Debtor, messages: Messages, charged: dict[int, list[InvoiceDebt]]
                ) -> list[InvoiceDebt]:
        """Render the notice into `messages`; the debts it shows whose interest could not be computed."""
        if notice.email:  # the invoice's own contact comes before the debtor's
            debtor = replace(debtor, email=notice.email)
        compiled = self.versions.compiled(notice.policy_version_id)
        policy, step = compiled.policy, notice.step
        language = self.templates.language_for(step.template, debtor.language, policy.settings.language,
                                               debtor.country)
        template = self.templates.variant(step.template, language, debtor.country)  # law by country
        numbers = [line.number for line in notice.invoices]
        link = self.links.link(notice.key, numbers, debtor.code, step.id, self.as_of) if self.links else ""
        owed = [item for case_id in notice.case_ids for item in charged.get(case_id, ())]
        charges = charge_lines(owed)
        facts = NoticeFacts(debtor, self.creditor, tuple(notice.invoices), step, policy, compiled.version,
                            self.as_of, language, notice.extra, payment_link=link, charges=charges)
        context = facts.context()
        rendered = self.templates.render(template, language, context)
        deliveries = choose_channels(step, debtor)
        html = (self.templates.email_html(rendered, context)
                if any(d.channel == "email" for d in deliveries) else None)
        for delivery in deliveries:
            key = f"{notice.key}:{delivery.channel}"
            messages.rows.append(dict(
                key=key, debtor_id=notice.debtor_id, channel=delivery.channel,
                recipient=recipient(delivery, debtor, step), language=language, template=template,
                step=step.id, subject=rendered.subject, body=rendered.body,
                html=html if delivery.channel == "email" else None, charges_digest=charges_digest(charges),
                invoice_numbers=[line.number for line in notice.invoices],
                open_amounts={line.number: str(line.open_amount.amount) for line in notice.invoices}, status="pending",
                created_on=self.as_of, created_at=self.now, attempts=0, routing=delivery.reason))
            for case_id in notice.case_ids:
                messages.by_case.setdefault(case_id, []).append((delivery.channel, key))
        return [item for item in owed if item.refusal]
