"""`dunflow plan`: what applying the policy files would change, computed before anything changes.

A plan compares the validated files with the versions active in the database and says
(a) which policies, steps and segment rules change, and (b) the impact on invoices in
flight: which cases move and their old and new `next_action_at`, which debtors change
policy, and what the next run would send differently. Its `digest` covers all of it and
the database state it was computed from, so `apply` can refuse a plan that went stale.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dunflow.domain.policy import FINAL_STATES, NEW, PAUSE_STATES, DebtorFacts, Policy
from dunflow.domain.schedule import due_step
from dunflow.policy.active import ActiveVersion, active_versions, is_applied
from dunflow.policy.migrate import CaseAt, land
from dunflow.policy.rules import PolicyFile
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import business_days, choose_policy, content_hash

if TYPE_CHECKING:
    from dunflow.store.uow import UnitOfWork

COMPARED = ("metadata", "applies_to", "settings", "events", "migrate")  # besides the steps


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class StepChange:
    step: str
    change: str  # added | removed | changed
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class PolicyChange:
    name: str
    change: str  # added | removed | changed
    file: str
    from_version: int | None
    to_version: int | None
    migrate: str
    steps: tuple[StepChange, ...] = ()
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class Move:
    """One in-flight case moved to another version (or policy), with its old and new next look."""

    invoice: str
    debtor: str
    case_id: int
    revision: int
    from_policy: str
    from_version: int
    from_state: str
    to_policy: str
    to_version: int | None
    to_state: str
    to_resume_state: str | None
    next_step: str | None
    old_next: date | None
    new_next: date | None
    why: tuple[str, ...]


@dataclass(frozen=True)
class Switch:
    """A debtor's invoice whose policy changes because a segment rule changed."""

    debtor: str
    invoice: str
    from_policy: str
    to_policy: str
    moved: bool


@dataclass(frozen=True)
class MessageChange:
    """What the next run (on the plan's date) would send instead, per step and channel."""

    before: str
    after: str
    count: int
    sample: str


@dataclass(frozen=True)
class Plan:
    as_of: date
    first_apply: bool
    database: str  # fingerprint of the database state the plan was computed from
    files: dict[str, str]  # policy name → content hash of its file
    changes: tuple[PolicyChange, ...] = ()
    moves: tuple[Move, ...] = ()
    switches: tuple[Switch, ...] = ()
    messages: tuple[MessageChange, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.moves or self.first_apply)

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical(asdict(self)).encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(canonical(asdict(self)))
        return {"format": "dunflow-plan/v1", "digest": self.digest, "has_changes": self.has_changes, **data}


def canonical(data: Any) -> str:
    """Stable JSON (sorted keys; dates and Decimals as strings) for digests and plan files."""
    return json.dumps(data, sort_keys=True, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> str:
    if isinstance(value, (date, Decimal)):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def compute_plan(uow: UnitOfWork, files: PolicySet, as_of: date) -> Plan:
    """The plan for making `files` the active policies, as of `as_of` (the next run's date)."""
    active = active_versions(uow)
    versions = _target_versions(uow, files)
    cases = uow.applies.in_flight(FINAL_STATES)
    impact = _Impact(active, files, versions, as_of, uow.applies.received_steps([case.id for case in cases]))
    for case in cases:
        impact.consider(case)
    return Plan(
        as_of=as_of, first_apply=not is_applied(uow),
        database=_fingerprint(active, cases, uow),
        files={pf.policy.name: content_hash(pf.document.text) for pf in files.files},
        changes=tuple(diff_policies(active, files, versions)), moves=tuple(impact.moves),
        switches=tuple(impact.switches), messages=impact.message_changes())


def _target_versions(uow: UnitOfWork, files: PolicySet) -> dict[str, int]:
    """name → the version number each file will have: its stored one, or the next free number."""
    numbers: dict[str, int] = {}
    for pf in files.files:
        name, digest = pf.policy.name, content_hash(pf.document.text)
        found = uow.applies.version_number(name, digest)
        numbers[name] = found if found is not None else uow.applies.newest_version(name) + 1
    return numbers


def _fingerprint(active: dict[str, ActiveVersion], cases: list[Any], uow: UnitOfWork) -> str:
    """What the plan depends on in the database: active versions, in-flight cases, the debtors' segment facts."""
    state = {"active": {name: v.content_hash for name, v in active.items()},
             "cases": [[c.id, c.revision, c.policy_version_id] for c in cases],
             "debtors": uow.applies.debtor_segment_facts()}
    return hashlib.sha256(canonical(state).encode("utf-8")).hexdigest()


def diff_policies(active: dict[str, ActiveVersion], files: PolicySet, versions: dict[str, int]) -> list[PolicyChange]:
    """Policies added, removed and changed, with their step and rule changes."""
    on_disk = {pf.policy.name: pf for pf in files.files}
    changes: list[PolicyChange] = []
    for name in sorted(set(active) | set(on_disk)):
        old, new = active.get(name), on_disk.get(name)
        if new is None and old is not None:
            changes.append(PolicyChange(name, "removed", old.source_file, old.version, None, ""))
        elif new is not None and old is None:
            changes.append(PolicyChange(name, "added", new.document.file, None, versions[name],
                                        new.policy.migrate.strategy, _step_changes({}, new.document.data)))
        elif new is not None and old is not None and old.content_hash != content_hash(new.document.text):
            before = old.policy_file().document.data
            changes.append(PolicyChange(name, "changed", new.document.file, old.version, versions[name],
                                        new.policy.migrate.strategy, _step_changes(before, new.document.data),
                                        _field_changes(before, new.document.data)))
    return changes


def _steps_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps = {s["id"]: s for s in data.get("steps", [])}
    if "escalation" in data:
        steps[data["escalation"]["id"]] = data["escalation"]
    return steps


def _step_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[StepChange, ...]:
    old, new = _steps_of(before), _steps_of(after)
    found = [StepChange(step, "removed") for step in old if step not in new]
    for step, data in new.items():
        if step not in old:
            found.append(StepChange(step, "added", tuple(FieldChange(k, None, v) for k, v in data.items() if k != "id")))
        elif old[step] != data:
            keys = sorted(set(old[step]) | set(data))
            found.append(StepChange(step, "changed", tuple(FieldChange(k, old[step].get(k), data.get(k))
                                                           for k in keys if old[step].get(k) != data.get(k))))
    return tuple(found)


def _field_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[FieldChange, ...]:
    """Changed rules outside the steps, down to the leaf that changed (`events.promise.on_broken`)."""
    found: list[FieldChange] = []
    for key in COMPARED:
        found += _leaf_changes(key, before.get(key), after.get(key))
    return tuple(found)


def _leaf_changes(path: str, before: Any, after: Any) -> list[FieldChange]:
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        return [change for key in sorted(set(before) | set(after), key=str)
                for change in _leaf_changes(f"{path}.{key}", before.get(key), after.get(key))]
    return [FieldChange(path, before, after)]


@dataclass
class _Impact:
    """Walks the in-flight cases once and collects moves, policy switches and changed messages."""

    active: dict[str, ActiveVersion]
    files: PolicySet
    versions: dict[str, int]
    as_of: date
    received: dict[int, frozenset[str]]
    moves: list[Move] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)
    sends: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self._old = {name: v.policy_file().policy for name, v in self.active.items()}
        self._new = {pf.policy.name: pf for pf in self.files.files}
        self._hashes = {name: content_hash(pf.document.text) for name, pf in self._new.items()}
        self._sources: dict[str, Policy] = {}

    def consider(self, case: Any) -> None:
        target = self._target(case)
        if target is None or (target.policy.name == case.name and self._hashes[case.name] == case.content_hash):
            return
        by_step = target.policy.migrate.strategy == "by_step"
        if target.policy.name != case.name:
            self.switches.append(Switch(case.code, case.number, case.name, target.policy.name, by_step))
        if by_step:
            self._move(case, self._policy_of(case), target.policy)

    def _target(self, case: Any) -> PolicyFile | None:
        """The policy a case belongs to under the files: its own, unless a segment rule now picks another."""
        facts = DebtorFacts(case.type, case.country, frozenset(t for t in case.tags.split(";") if t),
                            case.credit_rating)
        before = choose_policy(list(self._old.values()), facts, case.amount)
        after = choose_policy([pf.policy for pf in self.files.files], facts, case.amount)
        if after is not None and (before is None or before.name != after.name or case.name not in self._new):
            return self._new[after.name]
        return self._new.get(case.name)

    def _policy_of(self, case: Any) -> Policy:
        """The (possibly old) version a case runs under, built from its stored text once."""
        if case.content_hash not in self._sources:
            version = ActiveVersion(case.name, case.policy_version_id, case.version, case.content_hash, case.source,
                                    case.source_file)
            self._sources[case.content_hash] = version.policy_file().policy
        return self._sources[case.content_hash]

    def _move(self, case: Any, old: Policy, new: Policy) -> None:
        at = CaseAt(case.state, case.resume_state, case.last_step_on, case.next_action_at, case.due_date,
                    self.received.get(case.id, frozenset()))
        landing = land(old, new, at, self.as_of, business_days(new.settings.calendar))
        self.moves.append(Move(case.number, case.code, case.id, case.revision, case.name, case.version, case.state,
                               new.name, self.versions.get(new.name), landing.state, landing.resume_state,
                               landing.next_step, case.next_action_at, landing.next_action_at, landing.why))
        before = self._next_send(old, case.state, case, case.next_action_at)
        after = self._next_send(new, landing.state, case, landing.next_action_at)
        if before != after:
            self.sends[(before, after)].append(case.number)

    def _next_send(self, policy: Policy, state: str, case: Any, next_at: date | None) -> str:
        """'step by channels' the next run would send for this case, or 'nothing'."""
        if state in PAUSE_STATES or next_at is None or next_at > self.as_of:
            return "nothing"
        reached = -1 if state == NEW else policy.step_index(state)
        due = due_step(policy, reached, case.due_date, case.last_step_on, self.as_of,
                       business_days(policy.settings.calendar))
        return "nothing" if due is None else f"{policy.name}/{due.step.id} by {'+'.join(due.step.channels)}"

    def message_changes(self) -> tuple[MessageChange, ...]:
        return tuple(MessageChange(before, after, len(numbers), numbers[0])
                     for (before, after), numbers in sorted(self.sends.items()))
