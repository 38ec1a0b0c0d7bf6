"""Extrajudicial collection costs and the fixed compensation per late invoice.

NL: the WIK scale (art. 6:96 BW, Besluit vergoeding voor buitengerechtelijke incassokosten, in force since
2012-07-01), mandatory for consumers: 15 % of the first 2,500, 10 % of the next 2,500, 5 % of the next 5,000,
1 % of the next 190,000, 0.5 % of the rest; at least 40, at most 6,775 (EUR). VAT is added on top only for a
creditor that cannot deduct it. Germany and the EU have no statutory scale (costs are damages to be shown), so
a scale calculation for them is refused. The fixed 40 EUR compensation (§288 Abs. 5 BGB, art. 6:96 lid 4 BW,
Directive 2011/7/EU art. 6) is owed by businesses only."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dunflow.domain.law.errors import UnsupportedLaw

CENT = Decimal("0.01")
# (lower, upper or None, percent) per art. 2 of the Besluit.
WIK_SCALE: tuple[tuple[Decimal, Decimal | None, Decimal], ...] = (
    (Decimal(0), Decimal(2500), Decimal(15)),
    (Decimal(2500), Decimal(5000), Decimal(10)),
    (Decimal(5000), Decimal(10000), Decimal(5)),
    (Decimal(10000), Decimal(200000), Decimal(1)),
    (Decimal(200000), None, Decimal("0.5")),
)
WIK_MINIMUM = Decimal(40)
WIK_MAXIMUM = Decimal(6775)
COMPENSATION_EUR = Decimal(40)
_COMPENSATION_SOURCE = {"DE": "§288 Abs. 5 BGB", "NL": "art. 6:96 lid 4 BW", "EU": "Directive 2011/7/EU art. 6"}


@dataclass(frozen=True)
class Bracket:
    """The share of the principal between `lower` and `upper` (None: no upper end) at `percent`."""

    lower: Decimal
    upper: Decimal | None
    percent: Decimal
    portion: Decimal
    amount: Decimal


@dataclass(frozen=True)
class CostsResult:
    """`amount`: the costs without VAT (rounded to the cent); `vat_amount`: VAT on top (0 without `vat`)."""

    amount: Decimal
    brackets: tuple[Bracket, ...]
    minimum_applied: bool
    maximum_applied: bool
    vat_amount: Decimal
    explanation: str

    @property
    def total(self) -> Decimal:
        """What the debtor is charged: costs plus VAT."""
        return self.amount + self.vat_amount


@dataclass(frozen=True)
class CompensationResult:
    """`amount` in `currency`, or 0 with `reason` saying why nothing is owed."""

    amount: Decimal
    currency: str
    reason: str
    explanation: str


def collection_costs(principal: Decimal, law: str, vat: Decimal | None = None) -> CostsResult:
    """The statutory collection costs on the principal still unpaid when they are charged (several invoices of
    one debtor: pass their combined principal)."""
    if law != "NL":
        raise UnsupportedLaw(
            f"law '{law}' has no statutory collection-cost scale",
            "only NL (WIK) has one; in DE and under Directive 2011/7/EU costs are damages to be shown case by case")
    if principal <= 0:
        raise UnsupportedLaw(f"collection costs need a positive principal, got {principal}")
    brackets = tuple(_brackets(principal))
    raw = sum((b.amount for b in brackets), Decimal(0))
    amount = min(max(raw, WIK_MINIMUM), WIK_MAXIMUM).quantize(CENT, ROUND_HALF_UP)
    vat_amount = (amount * vat / 100).quantize(CENT, ROUND_HALF_UP) if vat else Decimal("0.00")
    result = CostsResult(amount=amount, brackets=brackets, minimum_applied=raw < WIK_MINIMUM,
                         maximum_applied=raw > WIK_MAXIMUM, vat_amount=vat_amount, explanation="")
    return CostsResult(**{**result.__dict__, "explanation": _explain_costs(principal, result, vat)})


def _brackets(principal: Decimal) -> list[Bracket]:
    brackets = []
    for lower, upper, percent in WIK_SCALE:
        if principal <= lower:
            break
        portion = (principal if upper is None else min(principal, upper)) - lower
        brackets.append(Bracket(lower, upper, percent, portion, portion * percent / 100))
    return brackets


def _explain_costs(principal: Decimal, result: CostsResult, vat: Decimal | None) -> str:
    lines = [f"WIK scale (art. 6:96 BW, Besluit vergoeding voor buitengerechtelijke incassokosten) on principal "
             f"{_shown(principal)}"]
    for b in result.brackets:
        upper = "" if b.upper is None else _shown(b.upper)
        lines.append(f"{b.percent} % of {_shown(b.portion)} (the part {_shown(b.lower)}..{upper}) = {_shown(b.amount)}")
    if result.minimum_applied:
        lines.append(f"below the minimum: {_shown(WIK_MINIMUM)}")
    if result.maximum_applied:
        lines.append(f"above the maximum: {_shown(WIK_MAXIMUM)}")
    lines.append(f"costs {result.amount}")
    if vat:
        lines.append(f"VAT {vat} % (creditor cannot deduct VAT) {result.vat_amount}; total {result.total}")
    return "\n".join(lines)


def _shown(value: Decimal) -> str:
    """An amount with at least two decimals and no more than it has: 375.00, 0.00005."""
    return f"{value:.2f}" if value == value.quantize(CENT) else str(value.normalize())


def compensation(law: str, currency: str, debtor_type: str) -> CompensationResult:
    """The fixed compensation per late invoice: 40 EUR from a business debtor, nothing from a consumer."""
    if law not in _COMPENSATION_SOURCE:
        raise UnsupportedLaw(f"no fixed compensation rule for law '{law}'", "use DE, NL or EU")
    if debtor_type not in ("business", "consumer"):
        raise UnsupportedLaw(f"unknown debtor type '{debtor_type}'", "use business or consumer")
    source = _COMPENSATION_SOURCE[law]
    if debtor_type == "consumer":
        reason = f"{source} applies only to commercial transactions, not to consumers"
        return CompensationResult(Decimal("0.00"), currency, reason, f"no fixed compensation: {reason}")
    if currency != "EUR":
        raise UnsupportedLaw(f"the fixed compensation is set in EUR ({source}); no rule for {currency}",
                             "the law names no amount in other currencies; charge it on EUR invoices only")
    amount = COMPENSATION_EUR.quantize(CENT)
    return CompensationResult(amount, currency, "", f"{source}: fixed {amount} EUR per late invoice")
