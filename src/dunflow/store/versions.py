"""Stored policy versions, and their compiled machines from one cache per store (engine).

A policy version is the exact text of a policy file, identified by its SHA-256. The
compiled machine of a version id is built once per `Store` and shared by every unit
of work on it: a payment, a run batch and `show` no longer re-read the policy source.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from dunflow.domain.calendar import BusinessDay
from dunflow.policy.compile import CompiledPolicy
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import business_days, compile_stored, content_hash
from dunflow.store.orm import PolicyVersion, table_of

VERSIONS = table_of(PolicyVersion)

CompiledCache = dict[int, CompiledPolicy]  # version id → compiled policy, one per Store


class PolicyVersionRepository:
    def __init__(self, connection: Connection, cache: CompiledCache) -> None:
        self.connection, self.cache = connection, cache

    def compiled(self, version_id: int) -> CompiledPolicy:
        """The compiled policy of a stored version (read and compiled on first use per store)."""
        if version_id not in self.cache:
            row = self.connection.execute(select(VERSIONS).where(VERSIONS.c.id == version_id)).one()
            self.cache[version_id] = compile_stored(row.source, row.source_file, row.version, row.content_hash)
        return self.cache[version_id]

    def calendar(self, version_id: int) -> BusinessDay:
        return business_days(self.compiled(version_id).policy.settings.calendar)

    def register(self, policy_set: PolicySet, now: datetime) -> dict[str, int]:
        """Make sure each policy file's current text is a stored version; name → version id."""
        ids: dict[str, int] = {}
        for pf in policy_set.files:
            name, digest = pf.policy.name, content_hash(pf.document.text)
            found = self.connection.execute(select(VERSIONS.c.id).where(
                VERSIONS.c.name == name, VERSIONS.c.content_hash == digest)).scalar()
            if found is None:
                latest = self.connection.execute(select(func.max(VERSIONS.c.version))
                                                 .where(VERSIONS.c.name == name)).scalar()
                found = self.connection.execute(insert(VERSIONS).values(
                    name=name, version=(latest or 0) + 1, content_hash=digest, source=pf.document.text,
                    source_file=pf.document.file, created_at=now).returning(VERSIONS.c.id)).scalar_one()
            ids[name] = int(found)
        return ids
