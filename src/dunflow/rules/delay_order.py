"""Steps run in the order written, so each must fall later than the one before it.

We compare the earliest day after the due date each step can fall on; `from:
previous_step` must wait at least one day; only a delay from the due date may
be negative (a courtesy reminder before the due date).
"""
from __future__ import annotations

from typing import Iterable

from ..domain.policy import Step
from ..errors import Problem
from . import PolicyFile

ID = "delay-order"


def _earliest(step: Step, previous: int | None) -> int:
    if step.after.anchor == "previous_step":
        return (previous if previous is not None else 0) + step.after.days
    return step.after.days


def check(pf: PolicyFile) -> Iterable[Problem]:
    previous: int | None = None
    previous_id = ""
    for step in pf.policy.all_steps:
        path = (*pf.step_path(step.id), "after", "days")
        if step.after.days < 0 and step.after.anchor != "due_date":
            yield pf.document.problem(path, f"step '{step.id}': a negative delay only works 'from: due_date'",
                                      "use from: due_date for a reminder before the due date", ID)
        elif step.after.anchor == "previous_step" and step.after.days <= 0:
            yield pf.document.problem(path, f"step '{step.id}' must wait at least 1 day after the previous step",
                                      "set days to 1 or more", ID)
        offset = _earliest(step, previous)
        if previous is not None and offset <= previous:
            yield pf.document.problem(
                path, f"delays go backwards: step '{step.id}' falls {offset} days after the due date, "
                f"not after step '{previous_id}' ({previous} days)",
                "steps run in the order written: give each a later delay than the one before, or reorder them", ID)
        previous, previous_id = max(offset, previous if previous is not None else offset), step.id
