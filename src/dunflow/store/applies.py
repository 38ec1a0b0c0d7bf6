"""The tables of the policy lifecycle: each `dunflow apply`, what it activated, and what is active now.

A policy version row (`policy_versions`) is immutable content; an apply is the act that
makes versions active, with who did it, when and why. `active_policies` is what `run`
and `import` use from the first apply on; `policy_activations` is the history.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dunflow.store.orm import Base


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
