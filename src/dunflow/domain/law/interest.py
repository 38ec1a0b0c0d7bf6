"""Default interest, day by day (DOMAIN.md's convention): every calendar day from `start` up to and including
`end` accrues 1/365 (act/365, the default) of the annual rate valid on that day; the total is rounded once,
half-up, to the cent. Consecutive days with the same rate and base form one `InterestPeriod`, so the result
reads like a hand calculation: base × rate × days / year length.

German interest is simple (§289 BGB: no interest on interest). Dutch statutory interest is compounded yearly
(art. 6:119 lid 2, 6:119a lid 3 BW): on each anniversary of the first day of default the interest of the year
just ended is added to the base (unrounded, so the total is still rounded only once)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterator

from dunflow.domain.law.errors import UnsupportedLaw
from dunflow.domain.law.rates import RateTable

DAY_COUNTS: tuple[str, ...] = ("act/365", "act/360", "act/act")
CENT = Decimal("0.01")
DEBTOR_TYPES: tuple[str, ...] = ("business", "consumer")
RateOn = Callable[[date], tuple[Decimal, str]]  # a day's annual rate in percent and where it comes from


@dataclass(frozen=True)
class InterestPeriod:
    """Days `start`..`end` (both included) at `rate` percent per year on `base`; `amount` is unrounded."""

    start: date
    end: date
    days: int
    rate: Decimal
    base: Decimal
    amount: Decimal
    year_days: int = 365
    source: str = ""  # where the rate of these days comes from (the rate table's period), for the explanation


@dataclass(frozen=True)
class InterestResult:
    amount: Decimal
    periods: tuple[InterestPeriod, ...]
    day_count: str
    compounded: bool
    explanation: str


@dataclass(frozen=True)
class _Basis:
    """How the rate is built for one law and debtor type: reference kind + margin (percentage points)."""

    kind: str
    margin: Decimal
    compounded: bool
    wording: str


def statutory_interest(principal: Decimal, start: date, end: date, law: str, debtor_type: str, rates: RateTable,
                       day_count: str = "act/365") -> InterestResult:
    """Statutory default interest on `principal` for the days `start`..`end` (both included)."""
    basis = _statutory_basis(law, debtor_type)

    def rate_on(day: date) -> tuple[Decimal, str]:
        period = rates.rate_on(basis.kind, day)
        return period.rate + basis.margin, period.source

    periods = _accrue(principal, start, end, rate_on, day_count, basis.compounded)
    return _result(periods, day_count, basis.compounded, basis.wording)


def contractual_interest(principal: Decimal, start: date, end: date, rate: Decimal,
                         day_count: str = "act/365") -> InterestResult:
    """Simple interest at a fixed contractual `rate` percent per year for the days `start`..`end`."""
    periods = _accrue(principal, start, end, lambda _day: (rate, "contract"), day_count, compounded=False)
    return _result(periods, day_count, False, f"contractual rate {rate} % per year, simple interest")


def _statutory_basis(law: str, debtor_type: str) -> _Basis:
    if debtor_type not in DEBTOR_TYPES:
        raise UnsupportedLaw(f"unknown debtor type '{debtor_type}'", "use business or consumer")
    consumer = debtor_type == "consumer"
    if law == "DE":
        margin = Decimal(5) if consumer else Decimal(9)
        return _Basis("DE-base", margin, False,
                      f"§288 Abs. {1 if consumer else 2} BGB: base rate (§247 BGB) + {margin} pp, "
                      "simple interest (§289 BGB)")
    if law == "NL":
        if consumer:
            return _Basis("NL-statutory", Decimal(0), True,
                          "art. 6:119 BW wettelijke rente, compounded yearly")
        return _Basis("NL-commercial", Decimal(0), True,
                      "art. 6:119a BW wettelijke handelsrente, compounded yearly")
    if law == "EU":
        if consumer:
            raise UnsupportedLaw("Directive 2011/7/EU covers commercial transactions only, not consumers",
                                 "use the law of the debtor's country (DE or NL) for a consumer")
        return _Basis("ECB-refi", Decimal(8), False,
                      "Directive 2011/7/EU art. 2(6): ECB reference rate + 8 pp, simple interest")
    raise UnsupportedLaw(f"no statutory interest rule for law '{law}'", "use DE, NL or EU")


def _accrue(principal: Decimal, start: date, end: date, rate_on: RateOn, day_count: str,
            compounded: bool) -> tuple[InterestPeriod, ...]:
    if day_count not in DAY_COUNTS:
        raise UnsupportedLaw(f"unknown day count '{day_count}'", f"use one of {', '.join(DAY_COUNTS)}")
    periods: list[InterestPeriod] = []
    base = principal
    for year_start, year_end in _interest_years(start, end, compounded):
        year_periods = _runs(base, year_start, year_end, rate_on, day_count)
        periods.extend(year_periods)
        base += sum((p.amount for p in year_periods), Decimal(0))
    return tuple(periods)


def _interest_years(start: date, end: date, compounded: bool) -> Iterator[tuple[date, date]]:
    """The whole span once for simple interest; for compounding, one span per year of default, each ending the
    day before the next anniversary of `start`."""
    if start > end:
        return
    if not compounded:
        yield start, end
        return
    years = 1
    current = start
    while current <= end:
        anniversary = _anniversary(start, years)
        yield current, min(end, anniversary - timedelta(days=1))
        current, years = anniversary, years + 1


def _anniversary(start: date, years: int) -> date:
    """`start` moved `years` years on; 29 February falls on 1 March in a year without it."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


def _runs(base: Decimal, start: date, end: date, rate_on: RateOn, day_count: str) -> list[InterestPeriod]:
    """Group consecutive days with the same rate, rate period and year length into periods."""
    runs: list[tuple[date, date, tuple[Decimal, str, int]]] = []
    day = start
    while day <= end:
        key = (*rate_on(day), _year_days(day, day_count))
        if runs and runs[-1][2] == key:
            runs[-1] = (runs[-1][0], day, key)
        else:
            runs.append((day, day, key))
        day += timedelta(days=1)
    return [_period(base, first, last, *key) for first, last, key in runs]


def _period(base: Decimal, start: date, end: date, rate: Decimal, source: str, year_days: int) -> InterestPeriod:
    days = (end - start).days + 1
    return InterestPeriod(start=start, end=end, days=days, rate=rate, base=base,
                          amount=base * rate / 100 * days / year_days, year_days=year_days, source=source)


def _year_days(day: date, day_count: str) -> int:
    if day_count == "act/360":
        return 360
    if day_count == "act/act":
        leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
        return 366 if leap else 365
    return 365


def _result(periods: tuple[InterestPeriod, ...], day_count: str, compounded: bool, wording: str) -> InterestResult:
    total = sum((p.amount for p in periods), Decimal(0))
    amount = total.quantize(CENT, ROUND_HALF_UP)
    lines = [f"{wording}; day count {day_count}: every day from the start up to and including the end date, "
             "each at the rate valid that day; total rounded once, half-up, to the cent"]
    lines += [f"{p.start.isoformat()}..{p.end.isoformat()}: {p.base} × {p.rate} % × {p.days}/{p.year_days} "
              f"= {p.amount.quantize(Decimal('0.000001'), ROUND_HALF_UP)}" for p in periods]
    lines.append(f"total {total.quantize(Decimal('0.000001'), ROUND_HALF_UP)} → {amount}")
    return InterestResult(amount=amount, periods=periods, day_count=day_count, compounded=compounded,
                          explanation="\n".join(lines))
