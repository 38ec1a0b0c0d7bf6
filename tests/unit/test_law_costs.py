"""WIK collection costs at every bracket boundary, minimum and maximum; the fixed 40 EUR compensation."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from dunflow.domain.law import (
    OverlappingRates,
    RatePeriod,
    RateTable,
    UnsupportedLaw,
    collection_costs,
    compensation,
)


@pytest.mark.parametrize("principal, expected", [
    ("125.00", "40.00"),        # 15 % = 18.75, below the minimum
    ("266.66", "40.00"),        # 39.999 → the minimum still applies
    ("266.67", "40.00"),        # 40.0005 → 40.00 by the scale itself
    ("2500.00", "375.00"),      # 15 % of 2,500
    ("2500.01", "375.00"),      # + 10 % of 0.01 = 0.001
    ("5000.00", "625.00"),      # 375 + 250
    ("10000.00", "875.00"),     # 375 + 250 + 250
    ("23000.00", "1005.00"),    # DOMAIN.md: 375 + 250 + 250 + 130
    ("200000.00", "2775.00"),   # 875 + 1 % of 190,000
    ("1000000.00", "6775.00"),  # 2775 + 0.5 % of 800,000 = the maximum exactly
    ("2000000.00", "6775.00"),  # capped
])
def test_wik_scale(principal: str, expected: str) -> None:
    assert collection_costs(D(principal), "NL").amount == D(expected)


def test_wik_reports_brackets_and_minimum() -> None:
    result = collection_costs(D("125.00"), "NL")
    assert result.minimum_applied and not result.maximum_applied
    assert [(b.percent, b.portion, b.amount) for b in result.brackets] == [(D(15), D("125.00"), D("18.7500"))]


def test_wik_reports_the_maximum() -> None:
    result = collection_costs(D("2000000.00"), "NL")
    assert result.maximum_applied and len(result.brackets) == 5
    assert result.brackets[-1].portion == D("1800000.00")


def test_vat_is_added_on_top_for_a_creditor_that_cannot_deduct_it() -> None:
    """3000.00: 375 + 50 = 425.00; 21 % VAT = 89.25; total 514.25."""
    result = collection_costs(D("3000.00"), "NL", vat=D(21))
    assert (result.amount, result.vat_amount, result.total) == (D("425.00"), D("89.25"), D("514.25"))


def test_laws_without_a_statutory_scale_are_refused() -> None:
    with pytest.raises(UnsupportedLaw, match="no statutory collection-cost scale"):
        collection_costs(D("1000.00"), "DE")


def test_compensation_is_forty_euro_from_businesses_only() -> None:
    assert compensation("DE", "EUR", "business").amount == D("40.00")
    assert compensation("EU", "EUR", "business").amount == D("40.00")
    consumer = compensation("NL", "EUR", "consumer")
    assert consumer.amount == D("0.00") and "consumers" in consumer.reason


def test_compensation_in_another_currency_is_refused() -> None:
    with pytest.raises(UnsupportedLaw, match="EUR"):
        compensation("DE", "GBP", "business")


def test_overlapping_rate_periods_are_refused() -> None:
    with pytest.raises(OverlappingRates):
        RateTable([RatePeriod("DE-base", date(2025, 1, 1), date(2025, 7, 1), D("2.27"), "a"),
                   RatePeriod("DE-base", date(2025, 7, 1), date(2025, 12, 31), D("1.27"), "b")])
