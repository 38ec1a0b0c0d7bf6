"""Credit-management metrics: aging buckets, DSO (standard, countback, best possible), ADD and CEI.

Pure arithmetic on Decimals, one currency at a time (receivables in two currencies are never added up).
Days and percentages are rounded half-up to one decimal, once, at the end. The formulas, as in the README:

- aging: days past due = as-of date - due date; 0 or less is `current` (not yet due), then 1-30, 31-60,
  61-90 and 91+ (`90+`);
- DSO, standard = receivables at period end / credit sales in the period x days in the period;
- DSO, countback: from the receivables at the end, walk back month by month, subtracting each month's credit
  sales while they fit entirely and adding the month's days; for the month that does not fit, add
  days x (what is left / that month's sales);
- best possible DSO = current (not yet due) receivables / credit sales x days; ADD = DSO - best possible DSO;
- CEI = (AR at start + credit sales - AR at end) / (AR at start + credit sales - current AR at end) x 100.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
ONE_DECIMAL = Decimal("0.1")
MAX_COUNTBACK_MONTHS = 36  # receivables older than three years of sales: the walk stops there


def aging_bucket(due_date: date, as_of: date) -> str:
    """The bucket of an open invoice on `as_of`, by days past its due date."""
    late = (as_of - due_date).days
    if late <= 0:
        return "current"
    if late <= 30:
        return "1-30"
    if late <= 60:
        return "31-60"
    if late <= 90:
        return "61-90"
    return "90+"


def rounded(value: Decimal | None) -> Decimal | None:
    """Days or percent to one decimal, half-up (None stays None: the ratio had no denominator)."""
    return None if value is None else value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def dso_standard(receivables: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """Receivables at period end / credit sales in the period x days; None without sales."""
    return receivables / credit_sales * days if credit_sales > 0 else None


@dataclass(frozen=True)
class MonthSales:
    """One month of the countback walk: its days (the current month counts up to the as-of date) and sales."""

    days: int
    sales: Decimal


def dso_countback(receivables: Decimal, months: list[MonthSales]) -> Decimal | None:
    """The countback DSO; `months` newest first. None when no month had sales at all."""
    if not any(m.sales > 0 for m in months):
        return None
    left, days = receivables, Decimal(0)
    for month in months[:MAX_COUNTBACK_MONTHS]:
        if left <= 0:
            break
        if month.sales <= left:
            left -= month.sales
            days += month.days
        else:
            return days + month.days * left / month.sales
    return days


def cei(ar_start: Decimal, credit_sales: Decimal, ar_end: Decimal, current_ar_end: Decimal) -> Decimal | None:
    """Collection effectiveness index in percent; None when nothing was collectable."""
    collectable = ar_start + credit_sales - current_ar_end
    return (ar_start + credit_sales - ar_end) / collectable * 100 if collectable > 0 else None
