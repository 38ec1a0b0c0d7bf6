"""Rate files: `rates/*.yaml` shipped with dunflow, plus the project's own `rates/*.yaml` next to `dunflow.yaml`.

Each file names one `kind` and its `periods` (`from`, `to` — both included —, `rate` in percent, `source`).
A project adds a newer half year by dropping a file in its `rates/` folder; no code changes. Every mistake is
located (`file:line:col`): an unknown kind, a period without source or end, and two periods of one kind that
share a day with different rates (repeating a shipped period exactly is allowed)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dunflow.domain.law import RATE_KINDS, RatePeriod, RateTable
from dunflow.errors import InputProblems, Problem
from dunflow.policy.load import Document, load_yaml
from dunflow.resources import resource_path

RULE = "rates-file"


@dataclass(frozen=True)
class _Located:
    period: RatePeriod
    problem_at: tuple[str, int, int]


def shipped_rates_dir() -> Path:
    return resource_path("rates")


def load_rate_table(project_root: Path | None = None) -> RateTable:
    """The shipped rates plus the project's; raises InputProblems (nothing computed) on any mistake."""
    folders = [shipped_rates_dir()] + ([project_root / "rates"] if project_root is not None else [])
    problems: list[Problem] = []
    located: list[_Located] = []
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            located += _read_file(path, problems)
    periods = _without_repeats(located, problems)
    if problems:
        raise InputProblems(problems)
    return RateTable(periods)


def _read_file(path: Path, problems: list[Problem]) -> list[_Located]:
    document, found = load_yaml(path, display=str(path))
    problems += found
    if document is None:
        return []
    data = document.data
    if not isinstance(data, dict) or data.get("kind") not in RATE_KINDS:
        problems.append(document.problem(("kind",), f"a rates file needs `kind:` one of {', '.join(RATE_KINDS)}",
                                         "see the shipped rates/*.yaml", RULE))
        return []
    entries = data.get("periods")
    if not isinstance(entries, list) or not entries:
        problems.append(document.problem(("periods",), "a rates file needs a list `periods:`", "", RULE))
        return []
    return [p for i, entry in enumerate(entries) if (p := _period(document, data["kind"], i, entry, problems))]


def _period(document: Document, kind: str, index: int, entry: Any, problems: list[Problem]) -> _Located | None:
    path = ("periods", index)
    if not isinstance(entry, dict):
        problems.append(document.problem(path, "a period is a mapping {from, to, rate, source}", "", RULE))
        return None
    mistakes = [m for m in (_check_dates(entry), _check_rate(entry), _check_source(entry)) if m]
    if mistakes:
        problems += [document.problem(path + (key,), message, hint, RULE) for key, message, hint in mistakes]
        return None
    where = document.mark(path)
    period = RatePeriod(kind, entry["from"], entry["to"], Decimal(str(entry["rate"])), entry["source"].strip())
    return _Located(period, (document.file, where.line, where.col))


def _check_dates(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    for key in ("from", "to"):
        if not isinstance(entry.get(key), date):
            return key, f"`{key}` must be a date (YYYY-MM-DD)", "every period names its first and last day"
    if entry["to"] < entry["from"]:
        return "to", "`to` is before `from`", "both days are included in the period"
    return None


def _check_rate(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    value = entry.get("rate")
    try:
        if isinstance(value, (bool, float)) or value is None or not Decimal(str(value)).is_finite():
            raise InvalidOperation
    except InvalidOperation:
        return "rate", "`rate` must be a percentage as a decimal string, e.g. \"1.27\"", "quote it to keep it exact"
    return None


def _check_source(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    if not isinstance(entry.get("source"), str) or not entry["source"].strip():
        return "source", "`source` must name where the rate comes from", \
            "e.g. the publication; mark a rate you computed yourself as derived"
    return None


def _without_repeats(located: list[_Located], problems: list[Problem]) -> list[RatePeriod]:
    """Drop exact repeats; report a period that shares a day with a different one, where it is written."""
    kept: list[_Located] = []
    for item in located:
        clash = next((k for k in kept if _shares_a_day(k.period, item.period)), None)
        if clash is None:
            kept.append(item)
        elif not _same(clash.period, item.period):
            file, line, col = item.problem_at
            other = clash.period
            problems.append(Problem(file, line, col,
                                    f"{item.period.kind} period {item.period.valid_from}..{item.period.valid_to} "
                                    f"({item.period.rate} %) overlaps {other.valid_from}..{other.valid_to} "
                                    f"({other.rate} %) from {clash.problem_at[0]}:{clash.problem_at[1]}",
                                    "one rate per day: fix the dates, or remove the period that is wrong", RULE))
    return [k.period for k in kept]


def _shares_a_day(a: RatePeriod, b: RatePeriod) -> bool:
    return a.kind == b.kind and a.valid_from <= (b.valid_to or date.max) and b.valid_from <= (a.valid_to or date.max)


def _same(a: RatePeriod, b: RatePeriod) -> bool:
    return (a.valid_from, a.valid_to, a.rate) == (b.valid_from, b.valid_to, b.rate)
