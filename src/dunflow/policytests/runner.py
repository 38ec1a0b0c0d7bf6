"""Run policy test cases: the real import, events and runner on a throwaway SQLite database, day by day.

Each case gets its own database in a temporary folder, the project's policy files stored as
versions, its debtors and invoices imported through the ordinary CSV importers, and a simulated
clock: for every day from `runs.from` to `runs.to` the day's events happen, then the day's run.
The actual timeline is read from the audit trail, with the rule that fired for each notice.
"""
from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Connection, Engine, select

from dunflow.clock import FixedClock
from dunflow.domain.notice import Creditor
from dunflow.engine.run import run_due
from dunflow.events.disputes import open_dispute, resolve_dispute
from dunflow.events.holds import place_hold, release_debtor
from dunflow.events.promises import make_promise
from dunflow.ledger.invoices import import_debtors, import_invoices
from dunflow.ledger.payments import add_payment
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import register_policies
from dunflow.policytests.cases import Event, Notice, PolicyTest
from dunflow.rendering.templates import TemplateStore
from dunflow.store.db import make_engine, migrate
from dunflow.store.orm import Action, Case, Invoice, table_of

ACTIONS, CASES, INVOICES = table_of(Action), table_of(Case), table_of(Invoice)
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


def run_case(case: PolicyTest, policies: PolicySet, templates: TemplateStore, creditor: Creditor) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="dunflow-test-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'test.db'}")
        try:
            migrate(engine)
            _load_fixtures(engine, case, policies, Path(folder))
            _simulate(engine, case, templates, creditor)
            return Outcome(case, _timeline(engine))
        finally:
            engine.dispose()


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: "" if v is None else ";".join(v) if isinstance(v, list) else str(v)
                           for k, v in row.items()} for row in rows])
    return path


def _load_fixtures(engine: Engine, case: PolicyTest, policies: PolicySet, folder: Path) -> None:
    invoices = [{"debtor_code": row.get("debtor"), **row} for row in case.invoices]
    with engine.begin() as connection:
        ids = register_policies(connection, policies)
        import_debtors(connection, _write_csv(folder / "debtors.csv", DEBTOR_COLUMNS, list(case.debtors)))
        import_invoices(connection, _write_csv(folder / "invoices.csv", INVOICE_COLUMNS, invoices), policies, ids)


def _simulate(engine: Engine, case: PolicyTest, templates: TemplateStore, creditor: Creditor) -> None:
    """Every day from the first event or run to the last run: that day's events, then the run."""
    day = min([case.first_run, *(e.on for e in case.events)])
    while day <= case.last_run:
        for event in (e for e in case.events if e.on == day):
            with engine.begin() as connection:
                HAPPEN[event.kind](connection, event)
        if day >= case.first_run:
            clock = FixedClock(datetime.combine(day, time(9), tzinfo=timezone.utc))
            run_due(engine, templates, creditor, day, clock)
        day += timedelta(days=1)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


HAPPEN: dict[str, Callable[[Connection, Event], object]] = {
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


def _timeline(engine: Engine) -> tuple[Fired, ...]:
    """The notices the runner queued, one line per invoice and step (channels joined), in order."""
    query = (select(ACTIONS.c.at, INVOICES.c.number, ACTIONS.c.step, ACTIONS.c.channel, ACTIONS.c.rule, ACTIONS.c.id)
             .join(CASES, CASES.c.id == ACTIONS.c.case_id).join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
             .where(ACTIONS.c.kind.in_(("step", "escalation")), ACTIONS.c.status != "skipped")
             .order_by(ACTIONS.c.at, INVOICES.c.number, ACTIONS.c.id))
    lines: dict[tuple[date, str, str], tuple[set[str], str]] = {}
    with engine.connect() as connection:
        for at, number, step, channel, rule, _ in connection.execute(query):
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
