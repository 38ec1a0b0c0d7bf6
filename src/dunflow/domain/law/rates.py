"""Reference rates as data: each period has its kind, validity and source. `rate_on` answers for one day or
refuses; it never carries an old rate forward, because a rate that was not published is not known."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable

from dunflow.domain.law.errors import MissingRate, OverlappingRates

# DE-base: Basiszinssatz (§247 BGB, Deutsche Bundesbank); ECB-refi: ECB main refinancing rate on the first day of
# the half year (Directive 2011/7/EU art. 2(12)); NL-statutory: wettelijke rente (art. 6:119 BW); NL-commercial:
# wettelijke handelsrente (art. 6:119a BW). All in percent per year.
RATE_KINDS: tuple[str, ...] = ("DE-base", "ECB-refi", "NL-statutory", "NL-commercial")


@dataclass(frozen=True)
class RatePeriod:
    """`rate` (percent per year) holds from `valid_from` up to and including `valid_to` (None: until a newer
    period starts — only the newest period of a kind may be open)."""

    kind: str
    valid_from: date
    valid_to: date | None
    rate: Decimal
    source: str

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class RateTable:
    """All known periods, checked once: within a kind no two periods share a day."""

    def __init__(self, periods: Iterable[RatePeriod]) -> None:
        self._by_kind: dict[str, tuple[RatePeriod, ...]] = {}
        for period in periods:
            self._by_kind[period.kind] = self._by_kind.get(period.kind, ()) + (period,)
        for kind, kind_periods in self._by_kind.items():
            ordered = tuple(sorted(kind_periods, key=lambda p: p.valid_from))
            _refuse_overlaps(kind, ordered)
            self._by_kind[kind] = ordered

    @property
    def periods(self) -> tuple[RatePeriod, ...]:
        return tuple(p for kind in sorted(self._by_kind) for p in self._by_kind[kind])

    def rate_on(self, kind: str, day: date) -> RatePeriod:
        """The period of `kind` that covers `day`, or MissingRate."""
        for period in self._by_kind.get(kind, ()):
            if period.covers(day):
                return period
        raise MissingRate(kind, day)


def _refuse_overlaps(kind: str, ordered: tuple[RatePeriod, ...]) -> None:
    for earlier, later in zip(ordered, ordered[1:]):
        if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
            raise OverlappingRates(kind, earlier.valid_from, later.valid_from)
