"""The debt of one invoice: its principal and the charges booked on top, and how money is allocated across them.

A charge (fee, interest, compensation, collection costs) is a line of its own; it never changes the principal.
Each line is rounded once, half-up, to the currency's minor unit when it is booked (`rounded`); allocation and
reversal move exact minor units only, so every figure adds up to the cent everywhere it is shown.

Allocation follows the policy's order of groups, by default costs → interest → principal (§367 BGB, art. 6:44
BW). Within a group the oldest line is paid first. A reversal re-opens what one payment paid in the reverse
order of that payment's shares (`reversal`), so the last thing paid is the first thing open again.

Interest is not a fixed amount: it grows every day the principal stays open. `accrued_interest` computes it,
day by day (domain.law.interest), on the open principal from the day after the last booked interest line (or
from the start of interest) up to a given day. It is booked as a line whenever a payment is allocated to the
invoice (the open principal changes only then, so each booked line has one constant base) and at the hand-over
to a collection agency; everywhere else (statement, notices, reports) the accrued part is shown as computed to
the as-of date, not booked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dunflow.domain.law.interest import InterestResult, contractual_interest, statutory_interest
from dunflow.domain.law.rates import RateTable
from dunflow.domain.money import minor_unit
from dunflow.domain.policy import DEFAULT_ALLOCATION, Charges, Policy

CHARGE_KINDS: tuple[str, ...] = ("fee", "interest", "compensation", "collection_costs")
GROUP_OF: dict[str, str] = {"fee": "costs", "compensation": "costs", "collection_costs": "costs",
                            "interest": "interest"}
PRINCIPAL = "principal"


def charges_anything(policy: Policy) -> bool:
    """Whether a policy can put anything on the debt besides the principal (interest, a fee, a statutory charge)."""
    return policy.charges.interest is not None or any(s.fee is not None or s.charges for s in policy.all_steps)


def rounded(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit: the one rounding a line gets, when it is booked."""
    return amount.quantize(minor_unit(currency), ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    """One charge. `line_id` None: interest accrued to the as-of date and not booked yet."""

    line_id: int | None
    kind: str
    step: str
    amount: Decimal
    paid: Decimal
    booked_on: date
    basis: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> Decimal:
        return self.amount - self.paid

    @property
    def group(self) -> str:
        return GROUP_OF[self.kind]


@dataclass(frozen=True)
class Debt:
    """Principal (as invoiced), what is still open of it, and the charge lines."""

    currency: str
    principal: Decimal
    open_principal: Decimal
    lines: tuple[Line, ...] = ()

    @property
    def principal_paid(self) -> Decimal:
        return self.principal - self.open_principal

    @property
    def open_charges(self) -> Decimal:
        return sum((line.open for line in self.lines), Decimal(0))

    @property
    def total_due(self) -> Decimal:
        return self.open_principal + self.open_charges

    def with_line(self, line: Line) -> Debt:
        return Debt(self.currency, self.principal, self.open_principal, (*self.lines, line))


@dataclass(frozen=True)
class Share:
    """Part of a payment for one target: a line (`line_id`) or the principal (`line_id` None)."""

    line_id: int | None
    kind: str
    amount: Decimal


def allocate(debt: Debt, amount: Decimal, order: tuple[str, ...] = DEFAULT_ALLOCATION) -> tuple[Share, ...]:
    """Split `amount` across the debt in `order` (groups: costs, interest, principal); oldest line first within a
    group. Only booked lines take money. What the shares do not use (amount > total due) is the caller's."""
    shares: list[Share] = []
    left = amount
    for group in order:
        if left <= 0:
            break
        if group == PRINCIPAL:
            take = min(left, debt.open_principal)
            if take > 0:
                shares.append(Share(None, PRINCIPAL, take))
                left -= take
            continue
        for line in sorted((x for x in debt.lines if x.group == group and x.line_id is not None),
                           key=lambda x: (x.booked_on, x.line_id or 0)):
            take = min(left, line.open)
            if take > 0:
                shares.append(Share(line.line_id, line.kind, take))
                left -= take
            if left <= 0:
                break
    return tuple(shares)


def reversal(shares: tuple[Share, ...] | list[Share]) -> tuple[Share, ...]:
    """The shares of one payment to give back, last paid first (each negated)."""
    return tuple(Share(s.line_id, s.kind, -s.amount) for s in reversed(list(shares)))


# --- interest -------------------------------------------------------------------------------------


def interest_start(charges: Charges, due_date: date, first_notice_on: date | None, debtor_type: str) -> date | None:
    """The first day interest accrues on, or None while it has not started (no notice delivered yet).

    `due_date`: the day after the due date. `first_notice`: the day after the first notice was delivered.
    `default` (when the law puts the debtor in default): under German law (§286 BGB) by the first notice after
    the due date, for a business at the latest 30 days after the due date (§286 Abs. 3; for a consumer only when
    the invoice said so, which dunflow does not know: so by the notice); under Dutch and EU law, and for a
    contractual rate, the day after the due date (a fixed payment term: art. 6:83 BW, Directive 2011/7/EU)."""
    after_notice = first_notice_on + timedelta(days=1) if first_notice_on is not None else None
    if charges.interest_from == "due_date":
        return due_date + timedelta(days=1)
    if charges.interest_from == "first_notice":
        return after_notice
    rule = charges.interest
    if rule is not None and rule.law == "DE":
        if debtor_type == "consumer":
            return after_notice
        by_time = due_date + timedelta(days=31)
        return by_time if after_notice is None else min(after_notice, by_time)
    return due_date + timedelta(days=1)


def interest_for(charges: Charges, base: Decimal, start: date, end: date, debtor_type: str,
                 rates: RateTable) -> InterestResult:
    """Interest on `base` for the days `start`..`end` by the policy's rule; raises LawRefusal (a period with no
    known rate, a rule the law does not have) rather than guessing."""
    rule = charges.interest
    if rule is None:
        raise ValueError("the policy charges no interest")
    if rule.rate is not None:
        return contractual_interest(base, start, end, rule.rate, charges.day_count)
    return statutory_interest(base, start, end, rule.law or "", debtor_type, rates, charges.day_count)


def interest_basis(result: InterestResult, start: date, end: date, base: Decimal) -> dict[str, Any]:
    """What a line records of how its interest was computed (JSON)."""
    return {"from": start.isoformat(), "to": end.isoformat(), "base": str(base), "day_count": result.day_count,
            "compounded": result.compounded,
            "periods": [{"from": p.start.isoformat(), "to": p.end.isoformat(), "days": p.days, "rate": str(p.rate),
                         "base": str(p.base), "year_days": p.year_days, "source": p.source} for p in result.periods],
            "explanation": result.explanation}


@dataclass(frozen=True)
class Accrual:
    """Interest accrued and not booked: `start`..`end` on `base`; `amount` rounded once."""

    start: date
    end: date
    base: Decimal
    amount: Decimal
    basis: dict[str, Any]


def accrued_interest(charges: Charges, debt: Debt, start: date | None, booked_to: date | None, as_of: date,
                     debtor_type: str, rates: RateTable) -> Accrual | None:
    """Interest on the open principal from the day after `booked_to` (or `start`) up to and including `as_of`;
    None when there is nothing to accrue. Raises LawRefusal when a day has no known rate."""
    if charges.interest is None or start is None or debt.open_principal <= 0:
        return None
    first = max(start, booked_to + timedelta(days=1)) if booked_to is not None else start
    if first > as_of:
        return None
    result = interest_for(charges, debt.open_principal, first, as_of, debtor_type, rates)
    amount = rounded(result.amount, debt.currency)
    return Accrual(first, as_of, debt.open_principal, amount, interest_basis(result, first, as_of, debt.open_principal))
