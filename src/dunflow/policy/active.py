"""The policy versions the database holds as active, and how the files drifted from them.

Before the first `dunflow apply` a project runs in its early mode: the newest stored
version of each policy counts as active (imports and runs store the files' texts as
versions). From the first apply on, only `apply` changes what is active; files that
differ are *drift*, reported by `run` and `status`, never silently stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Connection, exists, func, select

from dunflow.policy.build import build_policy
from dunflow.policy.load import load_yaml_text
from dunflow.policy.rules import PolicyFile
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import content_hash, register_policies
from dunflow.store.applies import ActivePolicy, PolicyApply
from dunflow.store.orm import PolicyVersion, table_of

VERSIONS, ACTIVE, APPLIES = table_of(PolicyVersion), table_of(ActivePolicy), table_of(PolicyApply)


@dataclass(frozen=True)
class ActiveVersion:
    """One stored, active policy version: its id, number, hash and exact text."""

    name: str
    version_id: int
    version: int
    content_hash: str
    source: str
    source_file: str

    def policy_file(self) -> PolicyFile:
        """The stored text loaded and built again (it validated when it was stored)."""
        document, _ = load_yaml_text(self.source, self.source_file)
        assert document is not None, f"stored policy {self.name} v{self.version} no longer loads"
        return PolicyFile(build_policy(document.data, self.source_file), document)


def is_applied(connection: Connection) -> bool:
    """Has `dunflow apply` ever run on this database?"""
    return bool(connection.execute(select(exists().where(APPLIES.c.id.is_not(None)))).scalar())


def active_versions(connection: Connection) -> dict[str, ActiveVersion]:
    """name → active version: the applied ones, or (before any apply) the newest stored version of each policy."""
    if is_applied(connection):
        query = select(VERSIONS).join(ACTIVE, ACTIVE.c.policy_version_id == VERSIONS.c.id)
    else:
        newest = select(VERSIONS.c.name, func.max(VERSIONS.c.version).label("version")).group_by(VERSIONS.c.name)
        latest = newest.subquery()
        query = select(VERSIONS).join(latest, (latest.c.name == VERSIONS.c.name) & (latest.c.version == VERSIONS.c.version))
    rows = connection.execute(query.order_by(VERSIONS.c.name))
    return {r.name: ActiveVersion(r.name, r.id, r.version, r.content_hash, r.source, r.source_file) for r in rows}


def active_policy_set(connection: Connection) -> tuple[PolicySet, dict[str, int]]:
    """The active policies as a PolicySet (what new invoices are assigned by), and name → version id."""
    active = active_versions(connection)
    files = tuple(version.policy_file() for version in active.values())
    return PolicySet(files), {name: version.version_id for name, version in active.items()}


def drift(connection: Connection, files: PolicySet) -> list[str]:
    """Policies whose file differs from the active version, as 'name (changed|added|removed)'."""
    active = {name: version.content_hash for name, version in active_versions(connection).items()}
    on_disk = {pf.policy.name: content_hash(pf.document.text) for pf in files.files}
    found = [f"{name} (changed)" for name in sorted(on_disk) if name in active and active[name] != on_disk[name]]
    found += [f"{name} (added)" for name in sorted(on_disk) if name not in active]
    found += [f"{name} (removed)" for name in sorted(active) if name not in on_disk]
    return found


def policies_for_new_cases(connection: Connection, files: Callable[[], PolicySet]) -> tuple[PolicySet, dict[str, int]]:
    """What new invoices are assigned by: the active versions once applied, else the files (stored as versions)."""
    if is_applied(connection):
        return active_policy_set(connection)
    policy_set = files()
    return policy_set, register_policies(connection, policy_set)
