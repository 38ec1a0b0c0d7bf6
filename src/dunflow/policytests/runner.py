"""Run policy test cases: the real import, events and runner on a throwaway SQLite database, day by day.

Each case gets its own database in a temporary folder, the project's policy files stored as
versions, its debtors and invoices imported through the ordinary CSV importers, and a simulated
clock: for every day from `runs.from` to `runs.to` the day's events happen, then the day's run, then the
day's delivery through the real send path into a recording sink (a step counts once it was delivered).
The actual timeline is read from the audit trail, with the rule that fired for each notice.
"""
from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from dunflow.domain.law.rates import RateTable
from dunflow.domain.notice import Creditor
from dunflow.engine.pauses import Timers
from dunflow.events.disputes import open_dispute, resolve_dispute
from dunflow.events.holds import place_hold, release_debtor
from dunflow.events.promises import make_promise
from dunflow.events.timers import pause_timers
from dunflow.ledger.invoices import import_debtors, import_invoices
from dunflow.ledger.payments import add_payment
from dunflow.policy.validate import PolicySet
from dunflow.policytests.cases import Event, Notice, PolicyTest
from dunflow.rendering.templates import TemplateStore
from dunflow.simulation.days import SimulatedDays
from dunflow.store.db import make_engine, migrate
from dunflow.store.uow import Store, UnitOfWork

DEBTOR_COLUMNS = ("code", "name", "type", "country", "language", "email", "phone", "address", "postal_code", "city",
                  "tags")
INVOICE_COLUMNS = ("number", "debtor_code", "currency", "amount", "open_amount", "issue_date", "due_date")
ACTOR = "dunflow test"


@dataclass(frozen=True)
class Fired:
    """A notice as it happened, with the rule the engine gave for it."""

    notice: Notice
    rule: str


@dataclass(frozen=True)
class Outcome:
    case: PolicyTest
    actual: tuple[Fired, ...]

    @property
    def passed(self) -> bool:
        return tuple(f.notice for f in self.actual) == self.case.expected


def run_case(case: PolicyTest, policies: PolicySet, templates: TemplateStore, creditor: Creditor,
             timers: Timers | None = None, rates: RateTable | None = None) -> Outcome:
    """`timers`: the runner's pause timers (default: the ones bootstrap wires, `events.timers.pause_timers()`);
    `rates`: the reference rates charges use (the project's, as for the daily run)."""
    with tempfile.TemporaryDirectory(prefix="dunflow-test-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'test.db'}")
        try:
            migrate(engine)
            days = SimulatedDays(engine, templates, creditor, timers if timers is not None else pause_timers(),
                                 rates=rates)
            _load_fixtures(days.at(case_start(case), 8), case, policies, Path(folder))
            _simulate(days, case)
            with days.at(case.last_run, 23).reading() as uow:
                return Outcome(case, _timeline(uow))
        finally:
            engine.dispose()


def case_start(case: PolicyTest) -> date:
    """The first day of a case: its first event or run."""
    return min([case.first_run, *(e.on for e in case.events)])


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: "" if v is None else ";".join(v) if isinstance(v, list) else str(v)
                           for k, v in row.items()} for row in rows])
    return path


def _load_fixtures(store: Store, case: PolicyTest, policies: PolicySet, folder: Path) -> None:
    invoices = [{"debtor_code": row.get("debtor"), **row} for row in case.invoices]
    with store.writing() as uow:
        ids = uow.versions.register(policies, uow.clock.now())
        import_debtors(uow, _write_csv(folder / "debtors.csv", DEBTOR_COLUMNS, list(case.debtors)))
        import_invoices(uow, _write_csv(folder / "invoices.csv", INVOICE_COLUMNS, invoices), policies, ids,
                        uow.clock.today())


def _simulate(days: SimulatedDays, case: PolicyTest) -> None:
    """Every day from the first event or run to the last run: that day's events (at 8:00), the run (9:00), and
    the delivery of what it queued (17:00), as `dunflow run` and `dunflow send` would do it."""
    day = case_start(case)
    while day <= case.last_run:
        for event in (e for e in case.events if e.on == day):
            with days.at(day, 8).writing() as uow:
                HAPPEN[event.kind](uow, event)
        if day >= case.first_run:
            days.run_and_send(day)
        day += timedelta(days=1)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


HAPPEN: dict[str, Callable[[UnitOfWork, Event], object]] = {
    "payment": lambda c, e: add_payment(c, str(e.data["invoice"]), Decimal(str(e.data["amount"])), e.on,
                                        actor=ACTOR),
    "dispute": lambda c, e: open_dispute(c, str(e.data["invoice"]), str(e.data.get("reason", "test")), e.on, ACTOR),
    "resolve": lambda c, e: resolve_dispute(c, str(e.data["invoice"]), bool(e.data.get("resume", True)), e.on,
                                            actor=ACTOR),
    "promise": lambda c, e: make_promise(c, str(e.data["invoice"]), _date(e.data["date"]),
                                         Decimal(str(e.data["amount"])) if "amount" in e.data else None, e.on, ACTOR),
    "hold": lambda c, e: place_hold(c, str(e.data["debtor"]), _date(e.data["until"]) if "until" in e.data else None,
                                    str(e.data.get("reason", "test")), e.on, ACTOR),
    "release": lambda c, e: release_debtor(c, str(e.data["debtor"]), e.on, ACTOR),
}


def _timeline(uow: UnitOfWork) -> tuple[Fired, ...]:
    """The notices the runner queued, one line per invoice and step (channels joined), in order."""
    lines: dict[tuple[date, str, str], tuple[set[str], str]] = {}
    for at, number, step, channel, rule, _ in uow.reports.notice_timeline():
        channels, _rule = lines.setdefault((at, number, step), (set(), rule))
        channels.add(channel or "none")
    return tuple(Fired(Notice(at, number, step, "+".join(sorted(channels))), rule)
                 for (at, number, step), (channels, rule) in lines.items())


def side_by_side(outcome: Outcome) -> list[str]:
    """Expected and actual timelines next to each other, with the rule that fired for each actual notice."""
    expected, actual = list(outcome.case.expected), list(outcome.actual)
    width = max([len(str(n)) for n in expected] + [len(str(f.notice)) for f in actual] + [len("expected")]) + 2
    lines = [f"  {'expected':<{width}}  {'actual':<{width}}  rule"]
    for index in range(max(len(expected), len(actual))):
        want = str(expected[index]) if index < len(expected) else "(nothing)"
        got = actual[index] if index < len(actual) else None
        mark = " " if got is not None and index < len(expected) and got.notice == expected[index] else "✗"
        lines.append(f"{mark} {want:<{width}}  {str(got.notice) if got else '(nothing)':<{width}}  "
                     f"{got.rule if got else ''}")
    return lines
