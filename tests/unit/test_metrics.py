"""The metric formulas on their own (hand-computed; the README's worked example is in tests/cli/test_reports.py)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from dunflow.domain.metrics import MonthSales, aging_bucket, cei, dso_countback, dso_standard, rounded


def test_aging_buckets_count_days_past_the_due_date() -> None:
    due = date(2027, 1, 1)
    assert [aging_bucket(due, date(2027, 1, d)) for d in (1, 2, 31)] == ["current", "1-30", "1-30"]
    assert aging_bucket(due, date(2027, 2, 1)) == "31-60"   # 31 days
    assert aging_bucket(due, date(2027, 4, 1)) == "61-90"   # 90 days
    assert aging_bucket(due, date(2027, 4, 2)) == "90+"     # 91 days


def test_countback_stops_inside_the_month_that_does_not_fit() -> None:
    months = [MonthSales(30, Decimal(100)), MonthSales(31, Decimal(200))]
    assert dso_countback(Decimal(150), months) == Decimal(30) + Decimal(31) * Decimal(50) / Decimal(200)
    assert dso_countback(Decimal(0), months) == 0
    assert dso_countback(Decimal(10), [MonthSales(30, Decimal(0))]) is None


def test_ratios_without_a_denominator_are_none_not_a_division_by_zero() -> None:
    assert dso_standard(Decimal(100), Decimal(0), 90) is None
    assert cei(Decimal(0), Decimal(0), Decimal(0), Decimal(0)) is None
    assert rounded(None) is None


def test_figures_round_half_up_once_to_one_decimal() -> None:
    assert rounded(Decimal("46.875")) == Decimal("46.9") and rounded(Decimal("0.05")) == Decimal("0.1")
    assert rounded(dso_standard(Decimal(7400), Decimal(8400), 90)) == Decimal("79.3")
