"""The policy versions the database holds as active, and how the files drifted from them.

Before the first `dunflow apply` a project runs in its early mode: the newest stored
version of each policy counts as active (imports and runs store the files' texts as
versions). From the first apply on, only `apply` changes what is active; files that
differ are *drift*, reported by `run` and `status`, never silently stored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from dunflow.policy.build import build_policy
from dunflow.policy.load import load_yaml_text
from dunflow.policy.rules import PolicyFile
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import content_hash

if TYPE_CHECKING:
    from dunflow.store.uow import UnitOfWork


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

    @classmethod
    def of(cls, row: Any) -> ActiveVersion:
        """From a stored `policy_versions` row."""
        return cls(row.name, row.id, row.version, row.content_hash, row.source, row.source_file)


def is_applied(uow: UnitOfWork) -> bool:
    """Has `dunflow apply` ever run on this database?"""
    return uow.applies.is_applied()


def active_versions(uow: UnitOfWork) -> dict[str, ActiveVersion]:
    """name → active version: the applied ones, or (before any apply) the newest stored version of each policy."""
    return {row.name: ActiveVersion.of(row) for row in uow.applies.active_versions()}


def active_policy_set(uow: UnitOfWork) -> tuple[PolicySet, dict[str, int]]:
    """The active policies as a PolicySet (what new invoices are assigned by), and name → version id."""
    active = active_versions(uow)
    files = tuple(version.policy_file() for version in active.values())
    return PolicySet(files), {name: version.version_id for name, version in active.items()}


def drift(uow: UnitOfWork, files: PolicySet) -> list[str]:
    """Policies whose file differs from the active version, as 'name (changed|added|removed)'."""
    active = {name: version.content_hash for name, version in active_versions(uow).items()}
    on_disk = {pf.policy.name: content_hash(pf.document.text) for pf in files.files}
    found = [f"{name} (changed)" for name in sorted(on_disk) if name in active and active[name] != on_disk[name]]
    found += [f"{name} (added)" for name in sorted(on_disk) if name not in active]
    found += [f"{name} (removed)" for name in sorted(active) if name not in on_disk]
    return found


def policies_for_new_cases(uow: UnitOfWork, files: Callable[[], PolicySet]) -> tuple[PolicySet, dict[str, int]]:
    """What new invoices are assigned by: the active versions once applied, else the files (stored as versions)."""
    if is_applied(uow):
        return active_policy_set(uow)
    policy_set = files()
    return policy_set, uow.versions.register(policy_set, uow.clock.now())
