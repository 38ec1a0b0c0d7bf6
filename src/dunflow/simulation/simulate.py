"""`dunflow simulate`: the production services on a throwaway copy of the database and a simulated clock.

The database is copied into a temporary SQLite file (`store.copy`); optionally another policy folder is
applied in the copy through the real `plan` + `apply` (in-flight invoices move as each policy's `migrate`
says, as they would after a real apply). Then every simulated day is what production does on a day: the
payments the behaviour model drew for that day (08:00, `ledger.payments.add_payment`), the run and the
delivery of what it queued into a recording sink (`SimulatedDays.run_and_send`). Days on which nothing is
due, no payment falls and nothing waits in the outbox are skipped (the next day with work is found through
the `next_action_at` index); a run on them would find nothing to do, so the result is the same.

Nothing reaches the real database or outbox: the copy is deleted when the simulation ends.
"""
from __future__ import annotations

import random
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Engine

from dunflow.domain.law.rates import RateTable
from dunflow.domain.notice import Creditor
from dunflow.engine.pauses import Timers
from dunflow.errors import DunflowError
from dunflow.ledger.payments import add_payment
from dunflow.policy.apply import SavedPlan, apply_plan
from dunflow.policy.plan import compute_plan
from dunflow.policy.validate import PolicySet
from dunflow.rendering.templates import TemplateStore
from dunflow.reporting.credit import dso
from dunflow.simulation.behaviour import PaymentModel
from dunflow.simulation.days import SimulatedDays
from dunflow.store.copy import copy_database, throwaway_engine

ACTOR = "dunflow simulate"


@dataclass
class Day:
    """What happened on one simulated day."""

    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (channel, step) → messages
    escalated: int = 0  # invoices handed over (escalation notices delivered)
    paid: int = 0  # invoices paid in full by a simulated payment
    cash_in: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def empty(self) -> bool:
        return not self.messages and not self.escalated and not self.paid


@dataclass
class Simulation:
    """One policy set's simulated days and the DSO at the end."""

    label: str
    start: date
    end: date
    days: dict[date, Day]
    dso: list[dict[str, Any]]
    # with `record`: every delivery (day, channel, step, invoices) and payment (day, invoice, amount), in order
    deliveries: list[tuple[date, str, str, tuple[str, ...]]] = field(default_factory=list)
    payments: list[tuple[date, str, Decimal]] = field(default_factory=list)
    # with `record`: every charge booked by the end (day, invoice, kind, step, amount, currency), in booking order
    charges: list[tuple[date, str, str, str, Decimal, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    """What to simulate: the period, the policies (None: the database's own), the behaviour model and seed."""

    start: date
    end: date
    model: PaymentModel
    seed: int
    label: str = "current"
    policies: PolicySet | None = None
    record: bool = False  # keep every delivery and payment (tests compare them with real runs)


def simulate(source: Engine, scenario: Scenario, templates: TemplateStore, creditor: Creditor, timers: Timers,
             batch_size: int = 1000, progress: Callable[[int, int], None] | None = None,
             rates: RateTable | None = None) -> Simulation:
    """Simulate `scenario` on a copy of `source`; `progress(days done, days)` after each simulated day."""
    if scenario.end < scenario.start:
        raise DunflowError(f"--to {scenario.end} is before --from {scenario.start}", "give a period forward in time")
    with tempfile.TemporaryDirectory(prefix="dunflow-simulate-") as folder:
        engine = throwaway_engine(Path(folder) / "simulation.db")
        try:
            copy_database(source, engine)
            days = SimulatedDays(engine, templates, creditor, timers, batch_size=batch_size, rates=rates)
            _refuse_the_past(days, scenario.start)
            if scenario.policies is not None:
                _apply(days, scenario.policies, scenario.start)
            return _Simulator(days, scenario).run(progress)
        finally:
            engine.dispose()


def _refuse_the_past(days: SimulatedDays, start: date) -> None:
    with days.at(start, 7).reading() as uow:
        last = uow.cases.last_run_on()
    if last is not None and last > start:
        raise DunflowError(f"the database's last run was on {last}; a simulation cannot start before it ({start})",
                           f"simulate from {last} or later")


def _apply(days: SimulatedDays, policies: PolicySet, on: date) -> None:
    """Apply `policies` in the copy, exactly as `dunflow apply` would on `on`."""
    store = days.at(on, 7)
    with store.reading() as uow:
        plan = compute_plan(uow, policies, on)
    apply_plan(store, policies, SavedPlan.of(plan), ACTOR, "what-if")


class _Simulator:
    def __init__(self, days: SimulatedDays, scenario: Scenario) -> None:
        self.days, self.scenario = days, scenario
        self.rng = random.Random(scenario.seed)
        self.log: dict[date, Day] = defaultdict(Day)
        self.payments: dict[date, list[str]] = defaultdict(list)  # day → invoices paid that day
        self.coming: set[str] = set()  # invoices with a payment drawn
        self.deliveries: list[tuple[date, str, str, tuple[str, ...]]] = []
        self.paid: list[tuple[date, str, Decimal]] = []
        with days.at(scenario.start, 7).reading() as uow:
            self.segments = uow.reports.debtor_segments()

    def run(self, progress: Callable[[int, int], None] | None) -> Simulation:
        start, end = self.scenario.start, self.scenario.end
        day, total = start, (end - start).days + 1
        while day <= end:
            self._pay(day)
            self.days.run_and_send(day)
            self._delivered(day)
            day = self._next_day(day)
            if progress is not None:
                progress(min(total, (day - start).days), total)
        with self.days.at(end, 23).reading() as uow:
            at_end = dso(uow, end)["rows"]
            charges = uow.debts.booked_charges() if self.scenario.record else []
        return Simulation(self.scenario.label, start, end,
                          {d: log for d, log in sorted(self.log.items()) if not log.empty()}, at_end,
                          self.deliveries, self.paid, charges)

    def _pay(self, day: date) -> None:
        """The payments drawn for `day`: each invoice's whole open amount, if anything is still open."""
        numbers = self.payments.pop(day, [])
        if not numbers:
            return
        with self.days.at(day, 8).writing() as uow:
            for number in numbers:
                invoice = uow.reports.invoice(number)
                if invoice is None or invoice.open_amount <= 0:
                    continue
                add_payment(uow, number, invoice.open_amount, day, actor=ACTOR)
                if self.scenario.record:
                    self.paid.append((day, number, invoice.open_amount))
                self.log[day].paid += 1
                self.log[day].cash_in[invoice.currency] += invoice.open_amount

    def _delivered(self, day: date) -> None:
        """Log what the sink received today and draw each listed invoice's reaction, in delivery order."""
        escalations = {c.policy.escalation.id for c in self.days.compiled.values() if c.policy.escalation}
        for message in self.days.sink.delivered.values():
            step, channel = str(message["step"]), str(message["channel"])
            self.log[day].messages[(channel, step)] += 1
            if self.scenario.record:
                self.deliveries.append((day, channel, step, tuple(message["invoice_numbers"])))
            if step in escalations:
                self.log[day].escalated += len(message["invoice_numbers"])
            segment = self.segments.get(message["debtor_id"], "")
            for number in message["invoice_numbers"]:
                self._draw(day, number, self.scenario.model.reaction(segment, step, channel))
        self.days.sink.delivered.clear()

    def _draw(self, day: date, number: str, reaction: Any) -> None:
        if reaction is None or number in self.coming:
            return
        if self.rng.random() < reaction.probability:
            self.payments[day + timedelta(days=self.rng.randint(1, reaction.within_days))].append(number)
            self.coming.add(number)

    def _next_day(self, day: date) -> date:
        """The next day with work: a case due, a payment falling, or a message waiting in the outbox."""
        with self.days.at(day, 23).reading() as uow:
            due, waiting = uow.reports.next_due_on(), bool(uow.outbox.pending_ids(1))
        tomorrow = day + timedelta(days=1)
        candidates = [max(due, tomorrow)] if due is not None else []
        candidates += [min(self.payments)] if self.payments else []
        return tomorrow if waiting else min(candidates + [self.scenario.end + timedelta(days=1)])
