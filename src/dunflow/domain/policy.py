"""The policy model: frozen data that the loader builds and the compiler turns into a machine.

A policy answers, for one segment of debtors: which notices go out, when, on which
channel, with which template, and what happens when the debtor pays, disputes,
promises or agrees on installments.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

API_VERSION = "dunflow/v1"

Anchor = Literal["due_date", "issue_date", "previous_step", "end_of_month"]
ChannelKind = Literal["email", "sms", "letter", "webhook", "task"]
CHANNELS: tuple[str, ...] = ("email", "sms", "letter", "webhook", "task")
CustomerType = Literal["business", "consumer"]
Law = Literal["DE", "NL", "EU"]
LegalNotice = Literal["fourteen_day_letter", "default_notice", "final_notice"]
InterestStart = Literal["default", "due_date", "first_notice"]
DEFAULT_ALLOCATION: tuple[str, ...] = ("costs", "interest", "principal")  # §367 BGB, art. 6:44 BW

# States every compiled policy has besides its steps; step ids may not reuse them.
NEW = "new"
PAID = "paid"
CANCELLED = "cancelled"
ESCALATED = "escalated"
BELOW_MINIMUM = "below_minimum"
DISPUTED = "disputed"
PROMISED = "promised"
HELD = "held"
ARRANGEMENT = "arrangement"
FINAL_STATES: frozenset[str] = frozenset({PAID, CANCELLED, ESCALATED, BELOW_MINIMUM})
PAUSE_STATES: frozenset[str] = frozenset({DISPUTED, PROMISED, HELD, ARRANGEMENT})
TIMED_PAUSES: frozenset[str] = frozenset({PROMISED, HELD, ARRANGEMENT})  # pauses the runner must end on a date
NOT_DUNNED: frozenset[str] = FINAL_STATES | PAUSE_STATES  # no notice goes out in these
RESERVED_STATES: frozenset[str] = NOT_DUNNED | {NEW}


@dataclass(frozen=True)
class Delay:
    """`after: {months: M, days: N, from: ...}`: M calendar months (clamped to the month end: Jan 31 + 1 month =
    Feb 28), then N days; negative days before the due date are courtesy reminders."""

    days: int = 0
    anchor: Anchor = "due_date"
    months: int = 0


@dataclass(frozen=True)
class Repeat:
    """`repeat: {every: {days: 14}, times: 3}`: the step goes out again `every` after its last sending while
    no later step is due, at most `times` sendings in all (the first included)."""

    every: Delay
    times: int


@dataclass(frozen=True)
class Fee:
    """`fee:` on a step, booked once per invoice when the step goes out. `by_currency` holds fixed amounts per
    currency (a plain amount is stored under the currency "*": the invoice's own); `percent` is a share of the
    original principal. Rounding to the currency's minor unit happens where the fee is booked."""

    by_currency: tuple[tuple[str, Decimal], ...] = ()
    percent: Decimal | None = None

    def base_amount(self, currency: str, principal: Decimal) -> Decimal | None:
        """The unrounded fee for an invoice, or None when the policy sets no fee for this currency."""
        if self.percent is not None:
            return principal * self.percent / 100
        amounts = dict(self.by_currency)
        return amounts.get(currency, amounts.get("*"))


@dataclass(frozen=True)
class OnContacted:
    """A step's `on_contacted`: resume the ladder (pause_days 0), or pause the debtor for `pause_days` days."""

    pause_days: int = 0

    @property
    def resumes(self) -> bool:
        return self.pause_days == 0


@dataclass(frozen=True)
class Step:
    id: str
    after: Delay
    channels: tuple[str, ...]
    template: str
    kind: str = "notice"
    fallback: str | None = None
    pay_within_days: int = 7
    required: bool = False
    title: str = ""
    repeat: Repeat | None = None
    fee: Fee | None = None
    charges: tuple[str, ...] = ()  # statutory charges booked when the step goes out: compensation, collection_costs
    legal: LegalNotice | None = None
    on_contacted: OnContacted | None = None  # what a task of this step closed as "contacted" does to the ladder

    @property
    def is_courtesy(self) -> bool:
        """A reminder planned before the due date: pointless once the invoice is overdue."""
        return self.after.anchor == "due_date" and self.after.months == 0 and self.after.days < 0


@dataclass(frozen=True)
class Escalation(Step):
    """The terminal step: after it, dunning stops and someone else takes over."""

    to: str = "collection_agency"
    agency: str = ""
    assignee: str = ""


@dataclass(frozen=True)
class Segment:
    """Which debtors (and invoices) a policy applies to; empty fields match everything."""

    priority: int = 0
    customer_types: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    tags_any: frozenset[str] = frozenset()
    tags_none: frozenset[str] = frozenset()
    credit_ratings: frozenset[str] = frozenset()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None

    def matches(self, debtor: DebtorFacts, amount: Decimal | None = None) -> bool:
        if self.customer_types and debtor.type not in self.customer_types:
            return False
        if self.countries and debtor.country not in self.countries:
            return False
        if self.tags_any and not (self.tags_any & debtor.tags):
            return False
        if self.tags_none & debtor.tags:
            return False
        if self.credit_ratings and debtor.credit_rating not in self.credit_ratings:
            return False
        return self._amount_matches(amount)

    def _amount_matches(self, amount: Decimal | None) -> bool:
        if amount is None:
            return True
        if self.amount_min is not None and amount < self.amount_min:
            return False
        return self.amount_max is None or amount < self.amount_max


@dataclass(frozen=True)
class DebtorFacts:
    """What segment matching looks at; built from a debtor row or a probe."""

    type: str
    country: str
    tags: frozenset[str] = frozenset()
    credit_rating: str = ""


@dataclass(frozen=True)
class Branding:
    """How a policy's e-mails look in their HTML part (the shared layout `templates/email-layout.html.j2`): one
    creditor may dun under several brands, so this is per policy. Empty fields: the layout's neutral default."""

    color: str = ""  # "#0b5394": headings, rule and button
    logo_url: str = ""  # https://…: shown at the top; never fetched by dunflow
    footer: str = ""  # one line under the signature (registered office, trade register…)


@dataclass(frozen=True)
class Settings:
    timezone: str = "Europe/Berlin"
    calendar: str = "DE"
    language: str = "en"
    minimum_open_amount: Decimal = Decimal("0.01")
    minimum_by_currency: tuple[tuple[str, Decimal], ...] = ()
    group_per_debtor: bool = False
    catch_up: Literal["latest", "next"] = "latest"
    min_days_between_steps: int = 0
    send_any_day: frozenset[str] = frozenset()  # channels that may go out on weekends and holidays
    debtor_minimum: Decimal | None = None
    debtor_minimum_by_currency: tuple[tuple[str, Decimal], ...] = ()
    branding: Branding = field(default_factory=Branding)

    def minimum_for(self, currency: str) -> Decimal:
        """Open amounts below this are not dunned (tolerance per currency, DOMAIN 'Tolerance')."""
        return dict(self.minimum_by_currency).get(currency, self.minimum_open_amount)

    def debtor_minimum_for(self, currency: str) -> Decimal | None:
        """When a debtor's overdue invoices in `currency` add up to this, even invoices below `minimum_for` are
        dunned (Lago's dunning threshold); None: small invoices are never dunned."""
        return dict(self.debtor_minimum_by_currency).get(currency, self.debtor_minimum)


@dataclass(frozen=True)
class DisputeRules:
    on_resolve: Literal["continue", "restart_delay"] = "restart_delay"


@dataclass(frozen=True)
class PromiseRules:
    grace_days: int = 3
    on_broken: str | None = None  # step id; None = the next step in order


@dataclass(frozen=True)
class ArrangementRules:
    reminder_after_days: int = 3
    reminder_template: str = "common/installment-reminder"
    reminder_channels: tuple[str, ...] = ("email",)
    reminder_fallback: str | None = "letter"
    max_missed: int = 2
    on_default: str | None = None  # step id; None = the next step in order


@dataclass(frozen=True)
class EventRules:
    dispute: DisputeRules = field(default_factory=DisputeRules)
    promise: PromiseRules = field(default_factory=PromiseRules)
    arrangement: ArrangementRules = field(default_factory=ArrangementRules)


@dataclass(frozen=True)
class InterestRule:
    """Default interest: statutory by `law` (the rate then follows the debtor type), or a contractual `rate`
    in percent per year."""

    law: Law | None = None
    rate: Decimal | None = None


@dataclass(frozen=True)
class Charges:
    """The policy's `charges:` block: what the debt may grow by besides the principal, and how payments are
    allocated across it. An empty block charges nothing."""

    interest: InterestRule | None = None
    interest_from: InterestStart = "default"
    compensation_law: Law | None = None
    collection_costs_law: Law | None = None
    collection_costs_vat: Decimal | None = None  # percent added when the creditor cannot deduct VAT
    allocation: tuple[str, ...] = DEFAULT_ALLOCATION
    delivery_days: int = 2
    day_count: str = "act/365"  # interest per day: act/365 (DOMAIN.md's convention), act/360 or act/act


@dataclass(frozen=True)
class Acknowledgement:
    """A legal lint rule the policy breaks on purpose, with the reason the author gave."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Migration:
    """How in-flight cases move when a new version of the policy is applied.

    `keep`: they finish on the version they started under. `by_step`: they stay in their step
    (with the new delays); a case in a removed step continues with the step `step_map` names,
    else the next old step that still exists.
    """

    strategy: Literal["keep", "by_step"] = "keep"
    step_map: tuple[tuple[str, str], ...] = ()

    def target_of(self, removed_step: str) -> str | None:
        return dict(self.step_map).get(removed_step)


@dataclass(frozen=True)
class Policy:
    """`escalation` is None only for a segment deliberately not dunned (`dunning: off`, no steps)."""

    name: str
    steps: tuple[Step, ...]
    escalation: Escalation | None
    segment: Segment = field(default_factory=Segment)
    settings: Settings = field(default_factory=Settings)
    events: EventRules = field(default_factory=EventRules)
    migrate: Migration = field(default_factory=Migration)
    charges: Charges = field(default_factory=Charges)
    acknowledged: tuple[Acknowledgement, ...] = ()
    description: str = ""
    owner: str = ""
    source_file: str = ""

    @property
    def dunned(self) -> bool:
        """False for a segment deliberately not dunned: its invoices are tracked, never get a notice."""
        return self.escalation is not None

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """Regular steps in order, then the escalation (none when not dunned)."""
        return (*self.steps, self.escalation) if self.escalation is not None else self.steps

    def step_index(self, step_id: str) -> int:
        for index, step in enumerate(self.all_steps):
            if step.id == step_id:
                return index
        raise KeyError(step_id)

    def step(self, step_id: str) -> Step:
        return self.all_steps[self.step_index(step_id)]
