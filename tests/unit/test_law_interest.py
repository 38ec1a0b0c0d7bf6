"""Statutory and contractual interest, checked against hand calculations (DOMAIN.md's day convention)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from dunflow.domain.law import (
    MissingRate,
    RatePeriod,
    RateTable,
    UnsupportedLaw,
    contractual_interest,
    statutory_interest,
)


def half_years(kind: str, *rows: tuple[date, date, str]) -> list[RatePeriod]:
    return [RatePeriod(kind, start, end, D(rate), "test table") for start, end, rate in rows]


RATES = RateTable(
    half_years("DE-base", (date(2025, 1, 1), date(2025, 6, 30), "2.27"), (date(2025, 7, 1), date(2025, 12, 31), "1.27"))
    + half_years("NL-commercial", (date(2024, 7, 1), date(2024, 12, 31), "12.25"),
                 (date(2025, 1, 1), date(2025, 6, 30), "11.15"), (date(2025, 7, 1), date(2025, 12, 31), "10.15"))
    + half_years("NL-statutory", (date(2025, 1, 1), date(2025, 6, 30), "6"))
    + half_years("ECB-refi", (date(2025, 1, 1), date(2025, 6, 30), "3.15"))
)


def test_german_business_interest_is_taken_day_by_day_across_the_base_rate_change() -> None:
    """1000.00 due 2025-06-14, calculated 2025-07-14: interest runs 2025-06-15..2025-07-14.
    16 days (15..30 June) at 2.27 + 9 = 11.27 %: 1000 × 0.1127 × 16 / 365 = 4.940274
    14 days (1..14 July)  at 1.27 + 9 = 10.27 %: 1000 × 0.1027 × 14 / 365 = 3.939178
    total 8.879452 → 8.88 (rounded once, half-up)."""
    result = statutory_interest(D("1000.00"), date(2025, 6, 15), date(2025, 7, 14), "DE", "business", RATES)
    assert result.amount == D("8.88")
    assert [(p.start, p.end, p.days, p.rate) for p in result.periods] == [
        (date(2025, 6, 15), date(2025, 6, 30), 16, D("11.27")),
        (date(2025, 7, 1), date(2025, 7, 14), 14, D("10.27")),
    ]
    assert not result.compounded
    assert "16/365" in result.explanation and "8.88" in result.explanation


def test_german_consumer_interest_is_base_rate_plus_five_points() -> None:
    """1000.00 for 2025-06-15..2025-07-14: 16 days at 7.27 % = 3.186849; 14 days at 6.27 % = 2.404932;
    total 5.591781 → 5.59."""
    result = statutory_interest(D("1000.00"), date(2025, 6, 15), date(2025, 7, 14), "DE", "consumer", RATES)
    assert result.amount == D("5.59")
    assert [p.rate for p in result.periods] == [D("7.27"), D("6.27")]


def test_dutch_commercial_interest_is_compounded_on_the_anniversary_of_default() -> None:
    """10000.00 in default from 2024-07-01 (first day of interest) to 2025-12-31.
    Year 1, 2024-07-01..2025-06-30: 184 days at 12.25 % = 617.534247 and 181 days at 11.15 % = 552.917808,
    together 1170.452055, added to the base on 2025-07-01 → 11170.452055.
    Year 2, 2025-07-01..2025-12-31: 184 days at 10.15 % on 11170.452055 = 571.559897.
    Total 1742.011952 → 1742.01 (simple interest would give 1681.96)."""
    result = statutory_interest(D("10000.00"), date(2024, 7, 1), date(2025, 12, 31), "NL", "business", RATES)
    assert result.amount == D("1742.01")
    assert result.compounded
    assert [(p.start, p.days, p.rate) for p in result.periods] == [
        (date(2024, 7, 1), 184, D("12.25")), (date(2025, 1, 1), 181, D("11.15")), (date(2025, 7, 1), 184, D("10.15")),
    ]
    assert result.periods[2].base.quantize(D("0.000001")) == D("11170.452055")


def test_eu_interest_is_the_ecb_rate_plus_eight_points() -> None:
    """1000.00 for 2025-01-01..2025-01-31: 31 days at 11.15 % = 9.469863 → 9.47."""
    result = statutory_interest(D("1000.00"), date(2025, 1, 1), date(2025, 1, 31), "EU", "business", RATES)
    assert result.amount == D("9.47")


def test_a_day_without_a_known_rate_is_refused() -> None:
    with pytest.raises(MissingRate) as refused:
        statutory_interest(D("1000.00"), date(2025, 12, 20), date(2026, 1, 5), "DE", "business", RATES)
    assert refused.value.day == date(2026, 1, 1) and refused.value.kind == "DE-base"


def test_eu_directive_interest_is_refused_for_consumers() -> None:
    with pytest.raises(UnsupportedLaw, match="consumers"):
        statutory_interest(D("1000.00"), date(2025, 1, 1), date(2025, 1, 31), "EU", "consumer", RATES)


def test_no_days_means_no_interest() -> None:
    result = statutory_interest(D("1000.00"), date(2025, 7, 15), date(2025, 7, 14), "DE", "business", RATES)
    assert result.amount == D("0.00") and result.periods == ()


def test_contractual_interest_under_each_day_count() -> None:
    """1000.00 at 8 % for 2024-02-01..2024-03-01 (30 days, leap year):
    act/365 6.575342 → 6.58; act/360 6.666667 → 6.67; act/act (366) 6.557377 → 6.56."""
    amounts = [contractual_interest(D("1000.00"), date(2024, 2, 1), date(2024, 3, 1), D("8"), day_count).amount
               for day_count in ("act/365", "act/360", "act/act")]
    assert amounts == [D("6.58"), D("6.67"), D("6.56")]


def test_rounding_is_half_up_once_on_the_total() -> None:
    """100.00 at 3.65 % for 5 days = 0.05 exactly; 100.00 at 1.825 % for 5 days = 0.025 → 0.03 (half-up)."""
    assert contractual_interest(D("100.00"), date(2025, 1, 1), date(2025, 1, 5), D("3.65")).amount == D("0.05")
    assert contractual_interest(D("100.00"), date(2025, 1, 1), date(2025, 1, 5), D("1.825")).amount == D("0.03")


def test_an_unknown_day_count_is_refused() -> None:
    with pytest.raises(UnsupportedLaw, match="day count"):
        contractual_interest(D("1.00"), date(2025, 1, 1), date(2025, 1, 2), D("8"), "30/360")
