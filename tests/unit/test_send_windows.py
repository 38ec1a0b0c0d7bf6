"""Send windows in the debtor's time zone: open now → None, else the next opening (UTC), across DST changes."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dunflow.domain.windows import next_opening, parse_window, zone_for

WEEKDAYS = parse_window({"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "20:00"})
BERLIN = "Europe/Berlin"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_inside_the_window_it_is_open_now() -> None:
    assert next_opening(utc(2026, 12, 1, 9, 0), WEEKDAYS, BERLIN) is None  # Tuesday 10:00 in Berlin


def test_at_three_in_the_morning_it_opens_at_eight_local_time() -> None:
    assert next_opening(utc(2026, 12, 1, 2, 0), WEEKDAYS, BERLIN) == utc(2026, 12, 1, 7, 0)  # 03:00 CET


def test_after_closing_time_it_opens_the_next_morning() -> None:
    assert next_opening(utc(2026, 12, 1, 19, 0), WEEKDAYS, BERLIN) == utc(2026, 12, 2, 7, 0)  # 20:00 CET: closed


def test_on_sunday_it_waits_for_monday() -> None:
    assert next_opening(utc(2026, 12, 6, 12, 0), WEEKDAYS, BERLIN) == utc(2026, 12, 7, 7, 0)


def test_friday_evening_waits_for_monday() -> None:
    assert next_opening(utc(2026, 12, 4, 19, 30), WEEKDAYS, BERLIN) == utc(2026, 12, 7, 7, 0)


def test_the_zone_decides_not_utc() -> None:
    # 07:30 UTC on a Tuesday: 08:30 in Amsterdam (open), 02:30 in New York (closed until 08:00 EST = 13:00 UTC)
    assert next_opening(utc(2026, 12, 1, 7, 30), WEEKDAYS, "Europe/Amsterdam") is None
    assert next_opening(utc(2026, 12, 1, 7, 30), WEEKDAYS, "America/New_York") == utc(2026, 12, 1, 13, 0)


def test_spring_forward_keeps_eight_o_clock_local() -> None:
    every_day = parse_window({"from": "08:00", "to": "20:00"})
    # Sunday 2026-03-29 clocks jump 02:00 → 03:00 in Berlin; Saturday night 23:00 CET = 22:00 UTC
    assert next_opening(utc(2026, 3, 28, 22, 0), every_day, BERLIN) == utc(2026, 3, 29, 6, 0)  # 08:00 CEST


def test_fall_back_keeps_eight_o_clock_local() -> None:
    every_day = parse_window({"from": "08:00", "to": "20:00"})
    # Sunday 2026-10-25 clocks go back 03:00 → 02:00; 08:00 CET = 07:00 UTC
    assert next_opening(utc(2026, 10, 24, 22, 0), every_day, BERLIN) == utc(2026, 10, 25, 7, 0)
    assert next_opening(utc(2026, 10, 25, 18, 59), every_day, BERLIN) is None  # 19:59 CET
    assert next_opening(utc(2026, 10, 25, 19, 0), every_day, BERLIN) == utc(2026, 10, 26, 7, 0)


def test_an_opening_time_lost_to_spring_forward_opens_when_the_clock_jumps() -> None:
    night = parse_window({"from": "02:30", "to": "05:00"})
    assert next_opening(utc(2026, 3, 28, 23, 0), night, BERLIN) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST


def test_an_opening_time_that_happens_twice_opens_at_the_first() -> None:
    night = parse_window({"from": "02:30", "to": "05:00"})
    assert next_opening(utc(2026, 10, 24, 22, 0), night, BERLIN) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST


def test_a_window_until_midnight_and_a_bad_window() -> None:
    late = parse_window({"days": ["sat"], "from": "18:00", "to": "24:00"})
    assert next_opening(utc(2026, 12, 5, 22, 59), late, BERLIN) is None  # Saturday 23:59 CET
    assert next_opening(utc(2026, 12, 5, 23, 0), late, BERLIN) == utc(2026, 12, 12, 17, 0)
    with pytest.raises(ValueError, match="after"):
        parse_window({"from": "20:00", "to": "08:00"})
    with pytest.raises(ValueError, match="unknown day"):
        parse_window({"days": ["monday"], "from": "08:00", "to": "20:00"})
    with pytest.raises(ValueError, match="aware"):
        next_opening(datetime(2026, 12, 1, 9, 0), WEEKDAYS, BERLIN)


def test_a_debtor_zone_comes_from_the_country_else_the_project_default() -> None:
    assert zone_for("NL") == "Europe/Amsterdam"
    assert zone_for("US", "America/Chicago") == "America/Chicago"
    assert zone_for("", "") == "UTC"
