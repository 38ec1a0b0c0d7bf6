"""The tables of the policy lifecycle: each `dunflow apply`, what it activated, and what is active now.

A policy version row (`policy_versions`) is immutable content; an apply is the act that
makes versions active, with who did it, when and why. `active_policies` is what `run`
and `import` use from the first apply on; `policy_activations` is the history.

`ApplyRepository` (`uow.applies`) holds the SQL of `plan`, `apply` and `policies …`: the
policy layer reaches these tables only through the unit of work.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import (
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from dunflow.store.orm import (
    Action,
    Base,
    Case,
    Debtor,
    Invoice,
    PolicyVersion,
    table_of,
)


class PolicyApply(Base):
    """One `dunflow apply`: when, by whom, with which message, and the digest of the plan it carried out."""

    __tablename__ = "policy_applies"
    id: Mapped[int] = mapped_column(primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_by: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text, default="")
    plan_digest: Mapped[str] = mapped_column(String(64))
    cases_moved: Mapped[int] = mapped_column(Integer, default=0)


class PolicyActivation(Base):
    """A policy's version changed by an apply (version None: the policy was removed)."""

    __tablename__ = "policy_activations"
    id: Mapped[int] = mapped_column(primary_key=True)
    apply_id: Mapped[int] = mapped_column(ForeignKey("policy_applies.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"), nullable=True)
    change: Mapped[str] = mapped_column(String(16))  # added | changed | removed


class ActivePolicy(Base):
    """The version of each policy that new invoices get and in-flight invoices may move to."""

    __tablename__ = "active_policies"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id"))
    apply_id: Mapped[int] = mapped_column(ForeignKey("policy_applies.id"))


APPLIES, ACTIVATIONS, ACTIVE = table_of(PolicyApply), table_of(PolicyActivation), table_of(ActivePolicy)
VERSIONS, CASES, INVOICES, DEBTORS = table_of(PolicyVersion), table_of(Case), table_of(Invoice), table_of(Debtor)
ACTIONS = table_of(Action)
LOCK_KEY = 16_1616  # the advisory lock of `dunflow apply`, per schema
IN_LIST = 5000  # bounded IN lists


class ApplyRepository:
    """The SQL of plan, apply and the policy history; `uow.applies`."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- what is active ------------------------------------------------------------------------

    def is_applied(self) -> bool:
        """Has `dunflow apply` ever run on this database?"""
        return bool(self.connection.execute(select(exists().where(APPLIES.c.id.is_not(None)))).scalar())

    def active_versions(self) -> list[Any]:
        """The active version rows: the applied ones, or (before any apply) the newest stored version per policy."""
        if self.is_applied():
            query = select(VERSIONS).join(ACTIVE, ACTIVE.c.policy_version_id == VERSIONS.c.id)
        else:
            latest = (select(VERSIONS.c.name, func.max(VERSIONS.c.version).label("version"))
                      .group_by(VERSIONS.c.name).subquery())
            query = select(VERSIONS).join(latest, (latest.c.name == VERSIONS.c.name)
                                          & (latest.c.version == VERSIONS.c.version))
        return list(self.connection.execute(query.order_by(VERSIONS.c.name)))

    def version_number(self, name: str, digest: str) -> int | None:
        """The stored version number of this exact text of policy `name`, if stored."""
        found = self.connection.execute(select(VERSIONS.c.version).where(
            VERSIONS.c.name == name, VERSIONS.c.content_hash == digest)).scalar()
        return None if found is None else int(found)

    def newest_version(self, name: str) -> int:
        """The highest stored version number of policy `name` (0: none)."""
        return int(self.connection.execute(select(func.max(VERSIONS.c.version))
                                           .where(VERSIONS.c.name == name)).scalar() or 0)

    # --- what a plan reads ---------------------------------------------------------------------

    def in_flight(self, final_states: Iterable[str]) -> list[Any]:
        """Every case not in a final state, with its invoice, debtor and current version (source included)."""
        query = (select(CASES.c.id, CASES.c.revision, CASES.c.state, CASES.c.resume_state, CASES.c.last_step_on,
                        CASES.c.next_action_at, CASES.c.policy_version_id, INVOICES.c.number, INVOICES.c.amount,
                        INVOICES.c.due_date, DEBTORS.c.code, DEBTORS.c.type, DEBTORS.c.country, DEBTORS.c.tags,
                        DEBTORS.c.credit_rating, VERSIONS.c.name, VERSIONS.c.version, VERSIONS.c.content_hash,
                        VERSIONS.c.source, VERSIONS.c.source_file)
                 .join(INVOICES, INVOICES.c.id == CASES.c.invoice_id)
                 .join(DEBTORS, DEBTORS.c.id == CASES.c.debtor_id)
                 .join(VERSIONS, VERSIONS.c.id == CASES.c.policy_version_id)
                 .where(CASES.c.state.not_in(sorted(final_states))).order_by(INVOICES.c.number))
        return list(self.connection.execute(query))

    def received_steps(self, case_ids: list[int]) -> dict[int, frozenset[str]]:
        """case id → the steps whose notice it was actually sent (queued or delivered)."""
        found: dict[int, set[str]] = defaultdict(set)
        for start in range(0, len(case_ids), IN_LIST):
            rows = self.connection.execute(select(ACTIONS.c.case_id, ACTIONS.c.step).where(
                ACTIONS.c.case_id.in_(case_ids[start:start + IN_LIST]), ACTIONS.c.kind.in_(("step", "escalation")),
                ACTIONS.c.status != "skipped"))
            for case_id, step in rows:
                found[case_id].add(step)
        return {case_id: frozenset(steps) for case_id, steps in found.items()}

    def debtor_segment_facts(self) -> list[list[Any]]:
        """Every debtor's segment facts (id, type, country, tags, credit rating), by id."""
        rows = self.connection.execute(select(DEBTORS.c.id, DEBTORS.c.type, DEBTORS.c.country, DEBTORS.c.tags,
                                              DEBTORS.c.credit_rating).order_by(DEBTORS.c.id))
        return [list(row) for row in rows]

    # --- what an apply writes ------------------------------------------------------------------

    def take_lock(self) -> bool:
        """PostgreSQL: the apply's advisory lock, without waiting (False: another apply holds it). SQLite: the
        write lock every writing unit of work already took (BEGIN IMMEDIATE)."""
        if self.connection.dialect.name != "postgresql":
            return True
        return bool(self.connection.execute(text("SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), :key)"),
                                            {"key": LOCK_KEY}).scalar())

    def record_apply(self, applied_at: datetime, applied_by: str, message: str, plan_digest: str,
                     cases_moved: int) -> int:
        return int(self.connection.execute(insert(APPLIES).values(
            applied_at=applied_at, applied_by=applied_by, message=message, plan_digest=plan_digest,
            cases_moved=cases_moved).returning(APPLIES.c.id)).scalar_one())

    def record_activations(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(ACTIVATIONS), rows)

    def replace_active(self, apply_id: int, ids: dict[str, int]) -> None:
        """Make exactly these versions (name → version id) the active ones."""
        self.connection.execute(delete(ACTIVE))
        if ids:
            self.connection.execute(insert(ACTIVE), [dict(name=name, policy_version_id=version_id, apply_id=apply_id)
                                                     for name, version_id in sorted(ids.items())])

    def move_case(self, case_id: int, revision: int, policy_version_id: int, state: str, resume_state: str | None,
                  next_action_at: date | None) -> bool:
        """Move a case still at `revision`; False when it changed meanwhile."""
        moved = self.connection.execute(
            update(CASES).where(CASES.c.id == case_id, CASES.c.revision == revision)
            .values(policy_version_id=policy_version_id, state=state, resume_state=resume_state,
                    next_action_at=next_action_at, revision=CASES.c.revision + 1))
        return moved.rowcount == 1

    def record_migrations(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(ACTIONS), rows)

    # --- the policy history (read side) --------------------------------------------------------

    def active_with_applies(self) -> list[Any]:
        """Each active policy: version, hash, the apply that activated it, and its cases."""
        cases = (select(VERSIONS.c.name, func.count().label("cases"))
                 .join(CASES, CASES.c.policy_version_id == VERSIONS.c.id).group_by(VERSIONS.c.name).subquery())
        return list(self.connection.execute(
            select(ACTIVE.c.name, VERSIONS.c.version, VERSIONS.c.content_hash, APPLIES.c.applied_at,
                   APPLIES.c.applied_by, APPLIES.c.message, cases.c.cases)
            .join(VERSIONS, VERSIONS.c.id == ACTIVE.c.policy_version_id)
            .join(APPLIES, APPLIES.c.id == ACTIVE.c.apply_id)
            .outerjoin(cases, cases.c.name == ACTIVE.c.name).order_by(ACTIVE.c.name)))

    def history(self, name: str) -> list[Any]:
        """Every apply that changed policy `name`, oldest first."""
        return list(self.connection.execute(
            select(APPLIES.c.id, APPLIES.c.applied_at, APPLIES.c.applied_by, APPLIES.c.message, ACTIVATIONS.c.change,
                   VERSIONS.c.version, VERSIONS.c.content_hash)
            .join(APPLIES, APPLIES.c.id == ACTIVATIONS.c.apply_id)
            .outerjoin(VERSIONS, VERSIONS.c.id == ACTIVATIONS.c.policy_version_id)
            .where(ACTIVATIONS.c.name == name).order_by(APPLIES.c.id)))

    def stored_version(self, name: str, version: int | None = None, hash_prefix: str | None = None) -> Any:
        """One stored version of `name` by number or hash prefix, or None."""
        query = select(VERSIONS).where(VERSIONS.c.name == name)
        if version is not None:
            query = query.where(VERSIONS.c.version == version)
        if hash_prefix is not None:
            query = query.where(VERSIONS.c.content_hash.startswith(hash_prefix))
        return self.connection.execute(query).first()
