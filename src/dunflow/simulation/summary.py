"""A simulation as data: the timeline, the totals, cash-in per week and DSO at the end (JSON, CSV, text).

Only days on which something happened are listed; amounts are decimal strings in the currency's minor unit;
keys are sorted, so the same simulation always prints the same bytes.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dunflow.domain.money import minor_unit
from dunflow.simulation.simulate import Day, Simulation

FORMAT = "dunflow-simulation/v1"


def _amounts(sums: dict[str, Decimal]) -> dict[str, str]:
    return {currency: str(amount.quantize(minor_unit(currency))) for currency, amount in sorted(sums.items())}


def _by(messages: Counter[tuple[str, str]], part: int) -> dict[str, int]:
    found: Counter[str] = Counter()
    for key, count in messages.items():
        found[key[part]] += count
    return dict(sorted(found.items()))


def _day(on: date, log: Day) -> dict[str, Any]:
    return {"date": str(on), "messages": sum(log.messages.values()), "messages_by_channel": _by(log.messages, 0),
            "messages_by_step": _by(log.messages, 1), "escalated": log.escalated, "paid": log.paid,
            "cash_in": _amounts(log.cash_in)}


def week_of(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def summary(sim: Simulation) -> dict[str, Any]:
    """`days`, `totals` (messages_by_step, messages_by_channel, paid, escalated, cash_in), `cash_in_per_week`
    and `dso` at the end."""
    messages: Counter[tuple[str, str]] = Counter()
    cash: dict[str, Decimal] = defaultdict(Decimal)
    weeks: dict[date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for on, log in sim.days.items():
        messages.update(log.messages)
        for currency, amount in log.cash_in.items():
            cash[currency] += amount
            weeks[week_of(on)][currency] += amount
    totals = {"messages": sum(messages.values()), "messages_by_channel": _by(messages, 0),
              "messages_by_step": _by(messages, 1), "paid": sum(d.paid for d in sim.days.values()),
              "escalated": sum(d.escalated for d in sim.days.values()), "cash_in": _amounts(cash)}
    return {"policies": sim.label, "from": str(sim.start), "to": str(sim.end),
            "days": [_day(on, log) for on, log in sim.days.items()], "totals": totals,
            "cash_in_per_week": [{"week": str(w), "cash_in": _amounts(s)} for w, s in sorted(weeks.items())],
            "dso": sim.dso}


def document(main: Simulation, seed: int, payments: str, other: Simulation | None = None) -> dict[str, Any]:
    """The JSON of `dunflow simulate`: the main run's summary at the top level, the `--compare` run under
    `compare`."""
    data = {"format": FORMAT, "seed": seed, "payments": payments, **summary(main)}
    if other is not None:
        data["compare"] = summary(other)
    return data


def csv_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One row per day and figure: policies, date, kind (channel, step, paid, escalated, cash_in), name, value."""
    rows: list[tuple[str, str, str, str, str]] = []
    for part in [data, *([data["compare"]] if "compare" in data else [])]:
        for day in part["days"]:
            for channel, n in day["messages_by_channel"].items():
                rows.append((part["policies"], day["date"], "channel", channel, str(n)))
            for step, n in day["messages_by_step"].items():
                rows.append((part["policies"], day["date"], "step", step, str(n)))
            for kind in ("paid", "escalated"):
                if day[kind]:
                    rows.append((part["policies"], day["date"], kind, "", str(day[kind])))
            for currency, amount in day["cash_in"].items():
                rows.append((part["policies"], day["date"], "cash_in", currency, amount))
    return rows
