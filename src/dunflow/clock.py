"""Clocks: the real one, and a fixed one for simulations and tests."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self, tz: str) -> date:
        """Today in the policy's time zone: a run at 23:30 UTC is already tomorrow in Berlin."""
        return datetime.now(ZoneInfo(tz)).date()


@dataclass
class FixedClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment

    def today(self, tz: str) -> date:
        return self.moment.astimezone(ZoneInfo(tz)).date()
