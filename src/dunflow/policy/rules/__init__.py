"""Semantic rules over schema-valid policies: one module per rule, each with an ID and a `check`.

A rule gets a `PolicyFile` (the built policy and the document it came from, for
line numbers) and yields `Problem`s. Cross-policy rules get all files at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from dunflow.domain.policy import Policy
from dunflow.errors import Problem
from dunflow.policy.load import Document


@dataclass(frozen=True)
class PolicyFile:
    policy: Policy
    document: Document

    def step_path(self, step_id: str) -> tuple[object, ...]:
        """Data path of a step (or the escalation) by id, for locating problems."""
        for index, step in enumerate(self.document.data.get("steps", [])):
            if isinstance(step, dict) and step.get("id") == step_id:
                return ("steps", index)
        return ("escalation",)


Check = Callable[[PolicyFile], Iterable[Problem]]
CrossCheck = Callable[[list[PolicyFile]], Iterable[Problem]]


def policy_checks() -> list[Check]:
    from dunflow.policy.rules import (
        calendar_settings,
        delay_order,
        legal,
        minimums,
        not_dunned,
        references,
        step_ids,
    )

    return [not_dunned.check, step_ids.check, delay_order.check, references.check, calendar_settings.check,
            minimums.check, legal.check]


def cross_checks() -> list[CrossCheck]:
    from dunflow.policy.rules import segments

    return [segments.check]
