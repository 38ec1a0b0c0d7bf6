"""Wiring: from a project folder to an engine, templates, policies, the pause timers and channels.

Everything the services need is built here and handed to them; no module fills a registry on import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from dunflow.clock import Clock, SystemClock
from dunflow.delivery.channels import Channel
from dunflow.delivery.dispatch import (
    DEFAULT_BATCH,
    DEFAULT_LEASE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_SECONDS,
    ChannelPolicy,
    Deferral,
    SendSettings,
)
from dunflow.delivery.registry import build_channel
from dunflow.delivery.refresh import Refresher
from dunflow.domain.links import PaymentLinks
from dunflow.domain.law.rates import RateTable
from dunflow.engine.pauses import PauseTimer
from dunflow.events.timers import pause_timers
from dunflow.law.rate_files import load_rate_table
from dunflow.policy.validate import PolicySet, load_policies
from dunflow.project import Project, load_project
from dunflow.rendering.templates import TemplateStore
from dunflow.store.db import make_engine, migrate
from dunflow.store.uow import Store


@dataclass
class Workspace:
    project: Project
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def open(cls, start: Path | None = None, database: str | None = None, clock: Clock | None = None) -> Workspace:
        """The project found from `start`; the one clock every service of this command reads."""
        return cls(load_project(start, database), clock or SystemClock())

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.project.database_url)
        migrate(engine)
        return engine

    @cached_property
    def store(self) -> Store:
        """Units of work on the project's database, with one compiled-policy cache for the whole command."""
        return Store(self.engine, self.clock, rate_source=self.rates)

    def rates(self) -> RateTable:
        """The shipped rate files plus the project's own `rates/*.yaml`."""
        return load_rate_table(self.project.root)

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.project.templates_dir)

    @cached_property
    def policies(self) -> PolicySet:
        return load_policies(self.project.policies_dir, self.templates, self.project.root)

    @cached_property
    def timers(self) -> dict[str, PauseTimer]:
        """The runner's timers for held, promised and arranged cases."""
        return pause_timers()

    @cached_property
    def payment_links(self) -> PaymentLinks | None:
        """`links:` with the secret from the environment (a user error if it is configured but not set)."""
        return self.project.payment_links()

    def register_policies(self) -> dict[str, int]:
        """Store the current policy texts as versions; name → version id."""
        with self.store.writing() as uow:
            return uow.versions.register(self.policies, uow.clock.now())

    @cached_property
    def refresher(self) -> Refresher:
        """Checks a pending message against today's open amounts before it goes out (payment links read when a
        message needs them)."""
        return Refresher(self.templates, self.project.creditor, lambda: self.payment_links)

    def deferral(self) -> Deferral | None:
        """When a message outside its channel's send window may go (`delivery.windows.deferral`); None when no
        channel has a window, so a send without windows asks nothing per message."""
        from dunflow.delivery.windows import deferral

        channels, zone = self.project.channels, self.project.timezone
        if not any(isinstance(c, dict) and c.get("window") for c in channels.values()):
            return None
        return lambda uow, message, now: deferral(uow, message, channels, zone, now)

    def channel(self, name: str) -> Channel:
        """The channel for messages of channel `name`: as configured in `channels:`, else the file sink."""
        return build_channel(name, self.project, self.store)

    def send_settings(self, lease_seconds: float | None = None, batch_size: int | None = None) -> SendSettings:
        """Retries per channel (`max_attempts`, `retry_seconds` in its block) and the claim lease."""
        policies = {name: ChannelPolicy(int(config.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
                                        float(config.get("retry_seconds", DEFAULT_RETRY_SECONDS)))
                    for name, config in self.project.channels.items()}
        lease = timedelta(seconds=lease_seconds) if lease_seconds is not None else DEFAULT_LEASE
        return SendSettings(batch_size=batch_size or DEFAULT_BATCH, lease=lease, policies=policies)
