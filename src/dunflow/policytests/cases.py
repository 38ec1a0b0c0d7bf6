"""Policy test files → test cases: fixtures, events on dates, runs, and the expected timeline.

A file holds `cases:`, each with `debtors`, `invoices`, `runs: {from, to}` (the runner runs
every day in between), optional `events` (`payment`, `dispute`, `resolve`, `promise`, `hold`,
`release`, each on a `date`) and `expect`: the notices in order, `{date, invoice, step, channel}`,
or `[]` for "no notice at all". Mistakes are located problems (`file:line:col`). (The key is
`date`, not `on`: YAML 1.1 reads a bare `on` as the boolean true.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dunflow.errors import Problem
from dunflow.policy.load import Document, load_yaml

EVENTS = ("payment", "dispute", "resolve", "promise", "hold", "release")


@dataclass(frozen=True)
class Notice:
    """One line of a timeline: on which date which invoice got which step by which channel(s)."""

    on: date
    invoice: str
    step: str
    channel: str  # channels joined by '+', sorted

    def __str__(self) -> str:
        return f"{self.on} {self.invoice} {self.step} by {self.channel}"


@dataclass(frozen=True)
class Event:
    on: date
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class PolicyTest:
    file: str
    line: int
    name: str
    debtors: tuple[dict[str, Any], ...]
    invoices: tuple[dict[str, Any], ...]
    first_run: date
    last_run: date
    events: tuple[Event, ...]
    expected: tuple[Notice, ...]


def policy_test_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.y*ml")) if directory.is_dir() else [directory]


def load_cases(path: Path, display: str) -> tuple[list[PolicyTest], list[Problem]]:
    document, problems = load_yaml(path, display)
    if document is None or problems:
        return [], problems
    cases: list[PolicyTest] = []
    entries = document.data.get("cases") if isinstance(document.data, dict) else None
    if not isinstance(entries, list) or not entries:
        return [], [document.problem((), "a policy test file needs a non-empty list `cases:`",
                                     "see the shipped tests in tests/ of a `dunflow init` project", "test-file")]
    for index, entry in enumerate(entries):
        try:
            cases.append(_case(document, ("cases", index), entry))
        except _Bad as bad:
            problems.append(document.problem(bad.path, bad.message, bad.hint, "test-case"))
    return cases, problems


class _Bad(Exception):
    def __init__(self, path: tuple[Any, ...], message: str, hint: str = "") -> None:
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint


def _case(document: Document, path: tuple[Any, ...], entry: Any) -> PolicyTest:
    if not isinstance(entry, dict):
        raise _Bad(path, "a test case must be a mapping")
    for key in ("name", "debtors", "invoices", "runs", "expect"):
        if key not in entry:
            raise _Bad(path, f"the test case lacks `{key}`", "each case has name, debtors, invoices, runs, expect")
    runs = entry["runs"]
    if not isinstance(runs, dict) or "from" not in runs or "to" not in runs:
        raise _Bad((*path, "runs"), "`runs` needs `from` and `to` dates", "e.g. runs: {from: 2026-10-01, to: 2026-12-31}")
    return PolicyTest(
        file=document.file, line=document.mark(path).line, name=str(entry["name"]),
        debtors=tuple(_rows(entry, path, "debtors")), invoices=tuple(_rows(entry, path, "invoices")),
        first_run=_date(runs["from"], (*path, "runs", "from")), last_run=_date(runs["to"], (*path, "runs", "to")),
        events=tuple(_event(e, (*path, "events", i)) for i, e in enumerate(entry.get("events") or [])),
        expected=tuple(_notice(n, (*path, "expect", i)) for i, n in enumerate(entry["expect"] or [])))


def _rows(entry: dict[str, Any], path: tuple[Any, ...], key: str) -> list[dict[str, Any]]:
    rows = entry[key]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise _Bad((*path, key), f"`{key}` must be a list of mappings")
    return rows


def _date(value: Any, path: tuple[Any, ...]) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise _Bad(path, f"'{value}' is not a date", "write dates as YYYY-MM-DD") from None


def _event(entry: Any, path: tuple[Any, ...]) -> Event:
    kinds = [k for k in EVENTS if isinstance(entry, dict) and k in entry]
    if len(kinds) != 1 or "date" not in entry:
        raise _Bad(path, "an event has a `date` and exactly one of: " + ", ".join(EVENTS),
                   "e.g. {date: 2026-10-20, payment: {invoice: T-1, amount: '100.00'}}")
    data = entry[kinds[0]]
    return Event(_date(entry["date"], (*path, "date")), kinds[0], data if isinstance(data, dict) else {})


def _notice(entry: Any, path: tuple[Any, ...]) -> Notice:
    if not isinstance(entry, dict) or not {"date", "invoice", "step", "channel"} <= set(entry):
        raise _Bad(path, "an expected notice has `date`, `invoice`, `step` and `channel`",
                   "e.g. {date: 2026-10-08, invoice: T-1, step: reminder, channel: email}")
    channel = entry["channel"]
    channels = channel if isinstance(channel, list) else str(channel).split("+")
    return Notice(_date(entry["date"], (*path, "date")), str(entry["invoice"]), str(entry["step"]),
                  "+".join(sorted(channels)))
