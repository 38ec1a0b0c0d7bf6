"""The time zone and holiday calendar a policy names must exist."""
from __future__ import annotations

import difflib
from typing import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "unknown-calendar"


def check(pf: PolicyFile) -> Iterable[Problem]:
    settings = pf.policy.settings
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(settings.timezone, sorted(available_timezones()), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use an IANA name such as Europe/Berlin"
        yield pf.document.problem(("settings", "timezone"), f"unknown time zone '{settings.timezone}'", hint,
                                  "unknown-timezone")
    country, _, subdivision = settings.calendar.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        yield pf.document.problem(("settings", "calendar"), f"no holiday calendar for country '{country}'",
                                  "use an ISO 3166 alpha-2 code such as DE, NL, AT, GB", ID)
    elif subdivision and subdivision not in supported[country]:
        close = difflib.get_close_matches(subdivision, supported[country], n=1, cutoff=0.3)
        hint = f"did you mean '{country}-{close[0]}'?" if close else f"subdivisions: {', '.join(supported[country])}"
        yield pf.document.problem(("settings", "calendar"), f"'{country}' has no subdivision '{subdivision}'", hint, ID)
