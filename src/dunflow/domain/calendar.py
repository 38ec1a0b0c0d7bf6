"""Dates for dunning: delays, month ends and business days.

Which days are holidays is data (the `holidays` package, wired in at the edge);
this module only knows how to move a date onto the next business day.
"""
from __future__ import annotations

import calendar as _stdcal
from datetime import date, timedelta
from typing import Callable

BusinessDay = Callable[[date], bool]


def weekdays_only(day: date) -> bool:
    """The fallback calendar: Monday to Friday, no holidays."""
    return day.weekday() < 5


def any_day(day: date) -> bool:
    """The calendar of channels the policy lets go out on weekends and holidays (`send_any_day`)."""
    return True


def end_of_month(day: date) -> date:
    return day.replace(day=_stdcal.monthrange(day.year, day.month)[1])


def next_business_day(day: date, is_business_day: BusinessDay) -> date:
    """The same day if it is a business day, else the first one after it (nobody gets a letter on Christmas)."""
    for _ in range(366):
        if is_business_day(day):
            return day
        day += timedelta(days=1)
    raise ValueError("calendar has no business day within a year")


def add_months(day: date, months: int) -> date:
    """Same day-of-month `months` later, clamped to the month end (Jan 31 + 1m = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, _stdcal.monthrange(year, month)[1]))
