"""Policy versions in the database, and each version compiled exactly once per process.

A policy version is the exact text of a policy file, identified by its SHA-256.
A case stays on the version it started under (so its history stays explainable);
moving in-flight cases to a new version is the job of `plan`/`apply`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Callable

import holidays
from sqlalchemy import Connection, func, insert, select

from dunflow.domain.calendar import BusinessDay
from dunflow.domain.policy import DebtorFacts, Policy
from dunflow.errors import DunflowError
from dunflow.policy.build import build_policy
from dunflow.policy.compile import CompiledPolicy, compile_policy
from dunflow.policy.load import load_yaml_text
from dunflow.policy.validate import PolicySet
from dunflow.store.orm import PolicyVersion, table_of


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def register_policies(connection: Connection, policy_set: PolicySet) -> dict[str, int]:
    """Make sure each policy file's current text is a stored version; name → version id."""
    table = table_of(PolicyVersion)
    ids: dict[str, int] = {}
    for pf in policy_set.files:
        name, digest = pf.policy.name, content_hash(pf.document.text)
        found = connection.execute(select(table.c.id).where(table.c.name == name,
                                                            table.c.content_hash == digest)).scalar()
        if found is None:
            latest = connection.execute(select(func.max(table.c.version)).where(table.c.name == name)).scalar()
            found = connection.execute(insert(table).values(
                name=name, version=(latest or 0) + 1, content_hash=digest, source=pf.document.text,
                source_file=pf.document.file, created_at=datetime.now(timezone.utc)).returning(table.c.id)).scalar_one()
        ids[name] = int(found)
    return ids


@lru_cache(maxsize=256)
def _compile_source(source: str, source_file: str, version: int, digest: str) -> CompiledPolicy:
    document, problems = load_yaml_text(source, source_file)
    if document is None or problems:
        raise DunflowError(f"stored policy {source_file} v{version} no longer loads", "re-apply the policy")
    return compile_policy(build_policy(document.data, source_file), version, digest)


@lru_cache(maxsize=64)
def business_days(calendar: str) -> BusinessDay:
    """Monday-Friday without the public holidays of the policy's calendar (country or country-subdivision)."""
    country, _, subdivision = calendar.partition("-")
    public = holidays.country_holidays(country, subdiv=subdivision or None)

    @lru_cache(maxsize=4096)
    def is_business_day(day: date) -> bool:
        return day.weekday() < 5 and day not in public

    return is_business_day


@dataclass
class CompiledVersions:
    """Version id → compiled policy, loaded from the database on first use."""

    connection: Connection

    def __post_init__(self) -> None:
        self._by_id: dict[int, CompiledPolicy] = {}

    def get(self, version_id: int) -> CompiledPolicy:
        if version_id not in self._by_id:
            table = table_of(PolicyVersion)
            row = self.connection.execute(select(table).where(table.c.id == version_id)).one()
            self._by_id[version_id] = _compile_source(row.source, row.source_file, row.version, row.content_hash)
        return self._by_id[version_id]

    def calendar(self, version_id: int) -> Callable[[date], bool]:
        return business_days(self.get(version_id).policy.settings.calendar)


def choose_policy(policies: list[Policy], facts: DebtorFacts, amount: Decimal | None) -> Policy | None:
    """The matching policy with the highest priority (validate proves there is exactly one)."""
    matching = [p for p in policies if p.segment.matches(facts, amount)]
    return max(matching, key=lambda p: p.segment.priority) if matching else None
