"""Every step id is used once, and none takes the name of a built-in state."""
from __future__ import annotations

from typing import Iterable

from dunflow.domain.policy import RESERVED_STATES
from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "duplicate-step-id"


def check(pf: PolicyFile) -> Iterable[Problem]:
    seen: dict[str, int] = {}
    paths = [("steps", i) for i in range(len(pf.policy.steps))] + [("escalation",)]
    for path, step in zip(paths, pf.policy.all_steps):
        id_path = (*path, "id")
        if step.id in RESERVED_STATES:
            yield pf.document.problem(
                id_path, f"step id '{step.id}' is a built-in state name",
                f"choose another id; reserved: {', '.join(sorted(RESERVED_STATES))}", "reserved-step-id")
        elif step.id in seen:
            yield pf.document.problem(
                id_path, f"step id '{step.id}' is used twice (first on line {seen[step.id]})",
                "give every step its own id", ID)
        else:
            seen[step.id] = pf.document.mark(id_path).line
