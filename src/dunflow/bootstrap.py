"""Wiring: from a project folder to an engine, templates, policies and channels."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from dunflow.clock import SystemClock
from dunflow.delivery.channels import Channel, FileSink
from dunflow.delivery.refresh import Refreshed, Withdrawn, refresh
from dunflow.policy.validate import PolicySet, load_policies
from dunflow.policy.versions import register_policies
from dunflow.project import Project, load_project
from dunflow.rendering.templates import TemplateStore
from dunflow.store.db import make_engine, migrate


@dataclass
class Workspace:
    project: Project
    clock: SystemClock = field(default_factory=SystemClock)

    @classmethod
    def open(cls, start: Path | None = None, database: str | None = None) -> Workspace:
        return cls(load_project(start, database))

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.project.database_url)
        migrate(engine)
        return engine

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.project.templates_dir)

    @cached_property
    def policies(self) -> PolicySet:
        return load_policies(self.project.policies_dir, self.templates, self.project.root)

    def register_policies(self) -> dict[str, int]:
        """Store the current policy texts as versions; name → version id."""
        with self.engine.begin() as connection:
            return register_policies(connection, self.policies)

    def refresher(self, connection: Connection, message: dict[str, Any]) -> Refreshed | Withdrawn | None | bool:
        """Check a pending message against today's open amounts before it goes out."""
        return refresh(connection, self.templates, self.project.creditor, message)

    def channel(self, name: str) -> Channel:
        return FileSink(self.project.outbox_dir, self.project.creditor.email)
