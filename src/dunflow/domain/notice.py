"""What a notice is about (debtor, invoices, step) and how it reaches the debtor.

The template context is built here, once, for the runner and for `validate`'s
sample rendering alike, so a template that renders at validate time renders at
send time.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from dunflow.domain.law import LawRefusal, collection_costs, fourteen_day_term, has_legal_effect
from dunflow.domain.money import Money, money_sum
from dunflow.domain.policy import Policy, Step

# What each channel needs from the debtor's contact data.
_CONTACT_NEEDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "sms": ("phone",),
    "letter": ("address", "postal_code", "city"),
    "webhook": (),
    "task": (),
}


@dataclass(frozen=True)
class Debtor:
    code: str
    name: str
    type: str
    country: str
    language: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    postal_code: str = ""
    city: str = ""
    tags: frozenset[str] = frozenset()
    credit_rating: str = ""

    def reachable_by(self, channel: str) -> bool:
        return all(getattr(self, need) for need in _CONTACT_NEEDS[channel])


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    issue_date: date
    due_date: date
    amount: Money
    open_amount: Money
    days_overdue: int


@dataclass(frozen=True)
class ChargeLine:
    """One charge of the debt as a notice shows it: booked (fee, compensation, collection costs, interest booked
    at a payment) or interest accrued to the notice's date (`accrued`)."""

    invoice: str
    kind: str
    step: str
    amount: Money
    open: Money
    accrued: bool = False


def charges_digest(charges: tuple[ChargeLine, ...]) -> str:
    """A short fingerprint of the charges a notice shows: `send` compares it with today's charges and renders the
    text again only when they differ (a payment that paid a fee, a charge booked since), not for every message."""
    text = "|".join(f"{c.invoice};{c.kind};{c.step};{c.amount.amount};{c.open.amount};{c.amount.currency};{c.accrued}"
                    for c in charges)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Creditor:
    name: str = "Your company"
    address: str = ""
    email: str = ""
    phone: str = ""
    iban: str = ""
    bic: str = ""
    website: str = ""
    contact: str = ""  # who answers questions, printed in a letter's footer: "Frau Berger, Forderungsmanagement"
    country: str = ""  # ISO 3166 alpha-2; a letter abroad gets the country as the last line of its address


@dataclass(frozen=True)
class Delivery:
    """One channel a notice goes out on, and why that one."""

    channel: str
    reason: str


def choose_channels(step: Step, debtor: Debtor) -> list[Delivery]:
    """The step's channels the debtor can be reached on; else its fallback; else a task to find a contact."""
    chosen: list[Delivery] = []
    for channel in step.channels:
        if debtor.reachable_by(channel):
            delivery = Delivery(channel, f"{channel} as the step says")
        elif step.fallback and debtor.reachable_by(step.fallback):
            delivery = Delivery(step.fallback, f"no {_CONTACT_NEEDS[channel][0]} for {channel}: fallback {step.fallback}")
        else:
            delivery = Delivery("task", f"debtor cannot be reached by {channel}: task to find a contact")
        if delivery.channel not in [d.channel for d in chosen]:
            chosen.append(delivery)
    return chosen


def invoice_line(number: str, issue: date, due: date, amount: Money, open_amount: Money, as_of: date) -> InvoiceLine:
    return InvoiceLine(number, issue, due, amount, open_amount, (as_of - due).days)


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a template may use; `extra` carries event-specific parts (an installment)."""

    debtor: Debtor
    creditor: Creditor
    invoices: tuple[InvoiceLine, ...]
    step: Step
    policy: Policy
    policy_version: int
    as_of: date
    language: str
    extra: dict[str, Any] = field(default_factory=dict)
    payment_link: str = ""  # the notice's signed payment link when `links:` is configured, else ""
    charges: tuple[ChargeLine, ...] = ()

    def fourteen_day(self, total_open: Money) -> dict[str, Any] | None:
        """For the Dutch 14-day letter (art. 6:96 lid 6 BW): when the debtor is presumed to receive it (the
        policy's `delivery_days` after the notice date), the last day to pay without costs, the day costs may be
        charged from, and the exact WIK costs that will then be charged on the open principal."""
        if self.step.legal != "fourteen_day_letter" or not has_legal_effect(self.step.legal, self.debtor.country):
            return None
        charges = self.policy.charges
        term = fourteen_day_term(self.as_of, charges.delivery_days)
        try:
            costs = collection_costs(total_open.amount, charges.collection_costs_law or "NL",
                                     charges.collection_costs_vat)
            amount: Money | None = Money(costs.total, total_open.currency)
        except LawRefusal:
            amount = None
        return {"received": term.received, "pay_by": term.last_day, "costs_from": term.costs_from, "costs": amount}

    def context(self) -> dict[str, Any]:
        currency = self.invoices[0].open_amount.currency
        total_open = money_sum([i.open_amount for i in self.invoices], currency)
        return {
            "debtor": self.debtor,
            "creditor": self.creditor,
            "invoices": list(self.invoices),
            "total_open": total_open,
            "charges": list(self.charges),
            "total_due": money_sum([total_open, *(c.open for c in self.charges)], currency),
            "fourteen_day": self.fourteen_day(total_open),
            "currency": currency,
            "as_of": self.as_of,
            "pay_by": self.as_of + timedelta(days=self.step.pay_within_days),
            "step": {"id": self.step.id, "kind": self.step.kind, "title": self.step.title},
            "escalation": {"to": getattr(self.step, "to", ""), "agency": getattr(self.step, "agency", ""),
                           "assignee": getattr(self.step, "assignee", "")},
            "policy": {"name": self.policy.name, "version": self.policy_version},
            "language": self.language,
            "payment_link": self.payment_link,
            "branding": self.policy.settings.branding,
            **self.extra,
        }
