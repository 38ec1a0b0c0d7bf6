"""Before a message goes out: is what it says still true?

A notice is rendered when the run decides on it and delivered later. If a
partial payment or credit note arrived in between, the notice is rendered again
with today's open amounts (invoices no longer dunned drop out of a grouped
notice); if none of its invoices is still dunned, or only invoices that were
lifted onto a grouped notice are left (none was due it), it is withdrawn. An
escalation stays due while its invoice is escalated and open.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from dunflow.domain.links import PaymentLinks
from dunflow.domain.debt import charges_anything
from dunflow.domain.money import Money
from dunflow.domain.notice import ChargeLine, Creditor, NoticeFacts, charges_digest, invoice_line
from dunflow.domain.policy import ESCALATED, NOT_DUNNED
from dunflow.engine.charges import InvoiceDebt, charge_lines, debts
from dunflow.engine.notices import debtor_from_row
from dunflow.rendering.templates import TemplateStore
from dunflow.store.ledger import CHUNK
from dunflow.store.uow import UnitOfWork


@dataclass(frozen=True)
class Withdrawn:
    """Withdraw the message, for this reason."""

    why: str


@dataclass(frozen=True)
class Refreshed:
    subject: str
    body: str
    invoice_numbers: list[str]
    open_amounts: dict[str, str]
    note: str
    html: str | None = None  # the e-mail's HTML part, rendered again with the text
    charges_digest: str | None = None  # of the charges the new text shows


Known = dict[tuple[int, date], InvoiceDebt]  # (invoice id, as of) → its debt, read ahead for a claimed batch


@dataclass(frozen=True)
class ReadAhead:
    """What `refresh` asks about a claimed batch, read for all its messages at once: the invoices with their
    cases, in groups of numbers (`number_groups`), each row with its place in its group's query order, and the
    debts under a charging policy."""

    groups: tuple[tuple[frozenset[str], dict[str, list[tuple[int, Any]]]], ...] = ()  # (numbers asked, rows)
    debts: Known = field(default_factory=dict)

    def with_cases(self, uow: UnitOfWork, numbers: list[str]) -> list[Any]:
        """As `uow.invoices.with_cases` (oldest due date first), from the group that read all of them."""
        for asked, rows in self.groups:
            if asked.issuperset(numbers):
                found = [row for number in dict.fromkeys(numbers) for row in rows.get(number, ())]
                return [row for _, row in sorted(found, key=lambda item: item[0])]  # the database's order
        return uow.invoices.with_cases(numbers)


def read_ahead(uow: UnitOfWork, messages: list[dict[str, Any]]) -> ReadAhead:
    """The invoices and debts `refresh` will look at for these messages, the debts as of each message's day."""
    asked = [sorted(m["open_amounts"]) for m in messages if m.get("open_amounts") and m["step"] != "installment"]
    groups: list[tuple[frozenset[str], dict[str, list[tuple[int, Any]]]]] = []
    charging: dict[str, set[int]] = {}  # number → its invoice's id, under a policy that charges anything
    for numbers in number_groups(asked, CHUNK):
        rows: dict[str, list[tuple[int, Any]]] = {}
        for place, row in enumerate(uow.invoices.with_cases(numbers)):
            rows.setdefault(row.number, []).append((place, row))
            if charges_anything(uow.versions.compiled(row.policy_version_id).policy):
                charging.setdefault(row.number, set()).add(row.id)
        groups.append((frozenset(numbers), rows))
    by_day: dict[date, set[int]] = {}
    for message in messages:
        ids = {invoice_id for n in message.get("open_amounts") or () for invoice_id in charging.get(n, ())}
        if ids:
            by_day.setdefault(message["created_on"], set()).update(ids)
    known = {(invoice_id, day): debt for day, ids in by_day.items()
             for invoice_id, debt in debts(uow, ids, day).items()}
    return ReadAhead(tuple(groups), known)


def number_groups(asked: list[list[str]], size: int) -> list[list[str]]:
    """The invoice numbers of several messages in groups of about `size` (under the driver's parameter limit),
    each message's numbers all in one group: the database orders a message's invoices among themselves as a query
    of that message alone would. A message with more numbers than `size` is a group of its own."""
    groups: list[list[str]] = []
    current: dict[str, None] = {}
    for listed in asked:
        new = [n for n in listed if n not in current]
        if current and len(current) + len(new) > size:
            groups.append(list(current))
            current = {}
            new = listed
        current.update(dict.fromkeys(new))
    if current:
        groups.append(list(current))
    return groups


class Refresher:
    """`refresh` for the messages of one send. Before a claimed batch is checked, `prepare` reads its invoices and
    their debts in a few queries (four per message otherwise). Checking books no charge and no payment, so what
    was read stays true for the batch, except the cases a withdrawal moves back: after one, they are read again."""

    def __init__(self, templates: TemplateStore, creditor: Creditor,
                 links: Callable[[], PaymentLinks | None] = lambda: None) -> None:
        self.templates, self.creditor, self.links = templates, creditor, links
        self.ahead = ReadAhead()

    def prepare(self, uow: UnitOfWork, messages: list[dict[str, Any]]) -> None:
        self.ahead = read_ahead(uow, messages)

    def __call__(self, uow: UnitOfWork, message: dict[str, Any]) -> Refreshed | Withdrawn | None | bool:
        verdict = refresh(uow, self.templates, self.creditor, message, self.links(), self.ahead)
        if verdict is None or isinstance(verdict, Withdrawn):  # the caller now moves cases back: read them again
            self.ahead = ReadAhead(debts=self.ahead.debts)
        return verdict


def refresh(uow: UnitOfWork, templates: TemplateStore, creditor: Creditor, message: dict[str, Any],
            links: PaymentLinks | None = None, ahead: ReadAhead | None = None) -> Refreshed | Withdrawn | None | bool:
    """True: send as rendered. None or Withdrawn: withdraw. Refreshed: send this text instead. `ahead`: what was
    read for the message's batch (`read_ahead`); anything not in it is read here."""
    rendered_with = message.get("open_amounts")
    if not rendered_with or message["step"] == "installment":
        return True
    ahead = ahead or ReadAhead()
    known = ahead.debts
    rows = ahead.with_cases(uow, list(rendered_with))
    escalation = _is_escalation(uow, message, rows)
    current = {r.number: str(r.open_amount) for r in rows if _still_due(r, escalation)}
    if current == rendered_with:
        if not rows or not charges_anything(uow.versions.compiled(rows[0].policy_version_id).policy):
            return True
        # a payment may have paid charges without touching the principal, a charge may have been booked since:
        # the text is rendered again only when the charges differ from those it was rendered with
        still = [r for r in rows if r.number in current]
        if message.get("charges_digest") == charges_digest(_charges(uow, still, message["created_on"], known)):
            return True
        again = _render_again(uow, templates, creditor, message, still, known=known)
        return True if (again.subject, again.body) == (message["subject"], message["body"]) else again
    if not current:
        return None
    due = uow.cases.due_numbers(message["key"])
    if due and not due & set(current):
        return Withdrawn(f"{', '.join(sorted(due))} no longer due it; {', '.join(current)} "
                         f"{'is' if len(current) == 1 else 'are'} due no notice of this step yet")
    return _render_again(uow, templates, creditor, message, [r for r in rows if r.number in current], links, known)


def _charges(uow: UnitOfWork, rows: list[Any], as_of: date, known: Known | None = None) -> tuple[ChargeLine, ...]:
    """The open charges of these invoices (rows with `id`) as a notice of `as_of` shows them."""
    known = known or {}
    if all((r.id, as_of) in known for r in rows):
        return charge_lines(known[(r.id, as_of)] for r in rows)
    return charge_lines(debts(uow, [r.id for r in rows], as_of).values())


def _is_escalation(uow: UnitOfWork, message: dict[str, Any], rows: list[Any]) -> bool:
    """Is this the hand-over (or the policy's other terminal step) rather than a notice to the debtor?"""
    if not rows:
        return False
    escalation = uow.versions.compiled(rows[0].policy_version_id).policy.escalation
    return escalation is not None and escalation.id == message["step"]


def _still_due(row: Any, escalation: bool) -> bool:
    """Does this invoice still need the message? An escalation moved its case to `escalated` on purpose, so it
    stays due until the invoice is paid, credited or cancelled; a notice only while the case is dunned."""
    if row.open_amount <= 0:
        return False
    if escalation:
        return bool(row.state == ESCALATED)
    return row.state not in NOT_DUNNED


def _render_again(uow: UnitOfWork, templates: TemplateStore, creditor: Creditor, message: dict[str, Any],
                  rows: list[Any], links: PaymentLinks | None = None, known: Known | None = None) -> Refreshed:
    compiled = uow.versions.compiled(rows[0].policy_version_id)
    debtor = debtor_from_row(uow.invoices.debtor(message["debtor_id"]))
    as_of = message["created_on"]
    lines = tuple(invoice_line(r.number, r.issue_date, r.due_date, Money(r.amount, r.currency),
                               Money(r.open_amount, r.currency), as_of) for r in rows)
    notice_key = str(message["key"]).rsplit(":", 1)[0]  # the message key is the notice's key + ":" + channel
    numbers = [line.number for line in lines]
    link = links.link(notice_key, numbers, debtor.code, message["step"], as_of) if links else ""
    charges = _charges(uow, rows, as_of, known)
    facts = NoticeFacts(debtor, creditor, lines, compiled.policy.step(message["step"]), compiled.policy,
                        compiled.version, as_of, message["language"], payment_link=link,
                        charges=charges)
    context = facts.context()
    rendered = templates.render(message["template"], message["language"], context)
    html = templates.email_html(rendered, context) if message["channel"] == "email" else None
    amounts = {line.number: str(line.open_amount.amount) for line in lines}
    return Refreshed(rendered.subject, rendered.body, [line.number for line in lines], amounts,
                     f"re-rendered before delivery: open amounts changed since {as_of}", html, charges_digest(charges))
