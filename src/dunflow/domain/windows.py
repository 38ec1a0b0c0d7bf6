"""Send windows: when a channel may reach a debtor, in the debtor's own time zone (no e-mail at 3 a.m., no SMS on
Sunday). Pure: the moment, the window and the zone are handed in.

A window is open while the debtor's local wall-clock time is on one of its days and within [from, to). Across a
daylight-saving change the wall clock decides: a window that opens at 08:00 opens at 08:00 local time on both sides
of the change; an opening time that does not exist that night (02:30 when clocks jump from 02:00 to 03:00) opens
at the first moment after it (03:00), one that exists twice (02:30 when clocks go back) at the first of the two.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Countries with one time zone for (nearly) all their addresses; others fall back to dunflow.yaml `timezone`.
COUNTRY_ZONES = {
    "AT": "Europe/Vienna", "BE": "Europe/Brussels", "BG": "Europe/Sofia", "CH": "Europe/Zurich",
    "CY": "Asia/Nicosia", "CZ": "Europe/Prague", "DE": "Europe/Berlin", "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn", "ES": "Europe/Madrid", "FI": "Europe/Helsinki", "FR": "Europe/Paris",
    "GB": "Europe/London", "GR": "Europe/Athens", "HR": "Europe/Zagreb", "HU": "Europe/Budapest",
    "IE": "Europe/Dublin", "IS": "Atlantic/Reykjavik", "IT": "Europe/Rome", "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius", "LU": "Europe/Luxembourg", "LV": "Europe/Riga", "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam", "NO": "Europe/Oslo", "PL": "Europe/Warsaw", "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm", "SI": "Europe/Ljubljana", "SK": "Europe/Bratislava", "TR": "Europe/Istanbul",
    "UA": "Europe/Kyiv", "JP": "Asia/Tokyo", "IN": "Asia/Kolkata", "SG": "Asia/Singapore", "ZA": "Africa/Johannesburg",
}


@dataclass(frozen=True)
class Window:
    """Days (0 = Monday) and local hours [opens, closes); `closes` None means midnight at the end of the day."""

    days: frozenset[int]
    opens: time
    closes: time | None

    def is_open(self, local: datetime) -> bool:
        """Is the window open at this local (zone-aware) moment?"""
        clock = local.time().replace(tzinfo=None)
        return (local.weekday() in self.days and clock >= self.opens
                and (self.closes is None or clock < self.closes))


def parse_window(data: dict[str, Any]) -> Window:
    """A window from dunflow.yaml (`{days: [mon, …], from: "08:00", to: "20:00"}`); ValueError if it makes no sense."""
    names = data.get("days") or DAY_NAMES
    unknown = [d for d in names if d not in DAY_NAMES]
    if unknown:
        raise ValueError(f"unknown day(s) {', '.join(map(str, unknown))}; use {', '.join(DAY_NAMES)}")
    opens = time.fromisoformat(str(data["from"]))
    closes = None if str(data["to"]) == "24:00" else time.fromisoformat(str(data["to"]))
    if closes is not None and closes <= opens:
        raise ValueError(f"window 'to' ({data['to']}) must be after 'from' ({data['from']}) on the same day")
    return Window(frozenset(DAY_NAMES.index(d) for d in names), opens, closes)


def zone_for(country: str, default: str = "") -> str:
    """The IANA zone of a debtor in `country`, else `default`, else UTC."""
    return COUNTRY_ZONES.get((country or "").upper()) or default or "UTC"


def next_opening(now_utc: datetime, window: Window, zone: ZoneInfo | str) -> datetime | None:
    """None when `window` is open at `now_utc` in `zone`; else the next moment (UTC) it opens.

    The delivery code calls this for each message before delivering it, with the channel's window and the
    debtor's zone (`zone_for(debtor.country, dunflow.yaml timezone)`): on None it delivers; on a datetime it does
    not deliver (and counts no attempt) but sets the message's `next_attempt_at` to that datetime, so the message
    waits in the outbox until the window opens."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    local = now_utc.astimezone(tz)
    if window.is_open(local):
        return None
    for ahead in range(0, 9):
        day = local.date() + timedelta(days=ahead)
        if day.weekday() not in window.days:
            continue
        opening = _first_moment_at(day, window.opens, tz)
        if opening > now_utc and window.is_open(opening.astimezone(tz)):
            return opening.astimezone(timezone.utc)
    raise ValueError("a send window without days never opens")


def _first_moment_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first instant whose local wall-clock time on `day` is `at` or later (DST gaps and folds handled)."""
    wall = datetime.combine(day, at)
    early = wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    late = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    if _wall(early, tz) == wall:  # exists (the first of two if it exists twice)
        return min(early, late) if _wall(late, tz) == wall else early
    # in a gap: search the instant the clock jumps past `wall`, between the two readings (at most a few hours)
    low, high = min(early, late), max(early, late)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)
