"""Steps run in the order written, so each must fall later than the one before it.

We compare the earliest day after the due date each step can fall on (a month
counts as 30 days here); `from: previous_step` must wait at least one day; only a
delay from the due date may be negative (a courtesy reminder before the due date).
A step `from: issue_date` cannot be compared with the due date (payment terms
differ per invoice), so the comparison starts afresh after it.
"""
from __future__ import annotations

from typing import Iterable

from dunflow.domain.policy import Step
from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "delay-order"


def _nominal(step: Step) -> int:
    return step.after.months * 30 + step.after.days


def _earliest(step: Step, previous: int | None) -> int:
    if step.after.anchor == "previous_step":
        return (previous if previous is not None else 0) + _nominal(step)
    return _nominal(step)


def check(pf: PolicyFile) -> Iterable[Problem]:
    if pf.policy.steps and all(step.is_courtesy for step in pf.policy.steps):
        yield pf.document.problem(("steps",), "every step is a courtesy reminder before the due date",
                                  "add at least one step after the due date; the escalation follows the last one", ID)
    previous: int | None = None
    previous_id = ""
    for step in pf.policy.all_steps:
        path = (*pf.step_path(step.id), "after", "days")
        problem = _own_problem(pf, step, path)
        if problem is not None:
            yield problem
        if step.after.anchor == "issue_date":
            previous, previous_id = None, step.id
            continue
        offset = _earliest(step, previous)
        if problem is None and previous is not None and offset <= previous:
            yield pf.document.problem(
                path, f"delays go backwards: step '{step.id}' falls {offset} days after the due date, "
                f"not after step '{previous_id}' ({previous} days)",
                "steps run in the order written: give each a later delay than the one before, or reorder them", ID)
        previous, previous_id = max(offset, previous if previous is not None else offset), step.id


def _own_problem(pf: PolicyFile, step: Step, path: tuple[object, ...]) -> Problem | None:
    """What is wrong with one step's delay on its own."""
    if _nominal(step) < 0 and step.after.anchor != "due_date":
        return pf.document.problem(path, f"step '{step.id}': a negative delay only works 'from: due_date'",
                                   "use from: due_date for a reminder before the due date", ID)
    if step.after.anchor == "previous_step" and _nominal(step) <= 0:
        return pf.document.problem(path, f"step '{step.id}' must wait at least 1 day after the previous step",
                                   "set days to 1 or more", ID)
    if step.is_courtesy and step.required:
        return pf.document.problem((*path[:-2], "required"),
                                   f"step '{step.id}' is a courtesy reminder and cannot be required",
                                   "a reminder before the due date is dropped once the invoice is overdue; "
                                   "remove `required`", ID)
    return None
