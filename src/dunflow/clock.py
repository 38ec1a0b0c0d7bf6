"""The one clock: services never read the wall clock, they are handed a `Clock` (or a date derived from it).

The CLI builds one `SystemClock` per command (in the Workspace); tests and simulations
pass a `FixedClock`, so every recorded timestamp and default date is reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """This moment, timezone-aware (UTC), for `recorded_at`/`created_at` columns."""
        ...

    def today(self, tz: str | None = None) -> date:
        """Today in `tz` (a policy's time zone); without one, in the clock's own zone."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self, tz: str | None = None) -> date:
        """Today in the policy's time zone: a run at 23:30 UTC is already tomorrow in Berlin."""
        return datetime.now(ZoneInfo(tz)).date() if tz else datetime.now().date()


@dataclass(frozen=True)
class FixedClock:
    moment: datetime

    @classmethod
    def on(cls, day: date, at: time = time(9, 0)) -> FixedClock:
        """A clock standing at `at` UTC on `day`."""
        return cls(datetime.combine(day, at, tzinfo=timezone.utc))

    def now(self) -> datetime:
        return self.moment

    def today(self, tz: str | None = None) -> date:
        return self.moment.astimezone(ZoneInfo(tz)).date() if tz else self.moment.date()
