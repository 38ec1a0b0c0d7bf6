"""Simulated days on a throwaway database: the real runner and the real send path, on a fixed clock per moment.

Shared by `dunflow test` (policy test cases) and `dunflow simulate`: a day is the day's run at 9:00 and the
delivery of what it queued at 17:00, exactly as `dunflow run --as-of D --send` does it, with a channel that
records instead of delivering. There is no second implementation of anything here, only the clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from sqlalchemy import Engine

from dunflow.clock import FixedClock
from dunflow.delivery.channels import RecordingSink
from dunflow.delivery.dispatch import SendReport, send_pending
from dunflow.delivery.refresh import Refresher
from dunflow.domain.law.rates import RateTable
from dunflow.domain.notice import Creditor
from dunflow.engine.pauses import Timers
from dunflow.engine.run import RunReport, run_due
from dunflow.rendering.templates import TemplateStore
from dunflow.store.uow import Store
from dunflow.store.versions import CompiledCache

RUN_AT, SEND_AT = time(9), time(17)


@dataclass
class SimulatedDays:
    """One throwaway database and its simulated days: a store per moment, sharing one compiled-policy cache."""

    engine: Engine
    templates: TemplateStore
    creditor: Creditor
    timers: Timers
    compiled: CompiledCache = field(default_factory=dict)
    sink: RecordingSink = field(default_factory=RecordingSink)
    batch_size: int = 1000
    rates: RateTable | None = None  # the reference rates charges use (as the daily run has them)

    def at(self, day: date, hour: int | time) -> Store:
        moment = hour if isinstance(hour, time) else time(hour)
        rates = self.rates
        return Store(self.engine, FixedClock.on(day, moment), self.compiled,
                     rate_source=None if rates is None else (lambda: rates))

    def run_and_send(self, day: date) -> tuple[RunReport, SendReport]:
        """The day's run and the delivery of what it queued, as `dunflow run --as-of DAY --send` does it."""
        ran = run_due(self.at(day, RUN_AT), self.templates, self.creditor, day, self.timers,
                      batch_size=self.batch_size)
        sent = send_pending(self.at(day, SEND_AT), lambda _channel: self.sink,
                            Refresher(self.templates, self.creditor), on=day)
        return ran, sent
