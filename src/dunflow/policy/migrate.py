"""Where an in-flight case lands on a new policy version (`migrate: by_step`): pure rules, no I/O.

The guarantees (README, "Moving in-flight invoices"):
- a case stays in its step when the new version still has it; a case in a removed step
  continues with the step `migrate.map` names, else the next old step that still exists;
- a step the debtor already received is never sent again;
- a `required` step the case has not received is never jumped over;
- the next step is never due before the deadline the last notice named.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dunflow.domain.calendar import BusinessDay, next_business_day
from dunflow.domain.policy import NEW, PAUSE_STATES, Policy
from dunflow.domain.schedule import next_planned, next_step


@dataclass(frozen=True)
class CaseAt:
    """What the migration looks at: where the case is and what the debtor already received."""

    state: str
    resume_state: str | None
    last_step_on: date | None
    next_action_at: date | None
    due_date: date
    received: frozenset[str]


@dataclass(frozen=True)
class Landing:
    """The case on the new version: state, resume state, next look, and why."""

    state: str
    resume_state: str | None
    next_action_at: date | None
    why: tuple[str, ...]
    next_step: str | None = None


def land(old: Policy, new: Policy, case: CaseAt, as_of: date, is_business_day: BusinessDay) -> Landing:
    """The case's place on `new` by step (pauses keep their state and timer; their resume state moves)."""
    paused = case.state in PAUSE_STATES
    dunning = (case.resume_state or NEW) if paused else case.state
    reached, why = reached_on_new(old, new, dunning, case.received)
    state = NEW if reached < 0 else new.steps[reached].id
    following = next_step(new, reached, case.due_date, as_of)
    upcoming = None if following is None else new.all_steps[following].id
    if paused:
        return Landing(case.state, state, case.next_action_at, (*why, f"stays {case.state} until the pause ends"),
                       upcoming)
    nxt = next_planned(new, reached, case.due_date, case.last_step_on, as_of, is_business_day)
    deadline = _last_deadline(old, dunning, case.last_step_on)
    if nxt is not None and deadline is not None:
        after_deadline = next_business_day(deadline + timedelta(days=1), is_business_day)  # once it has passed
        if nxt <= after_deadline:
            nxt = after_deadline
            why += (f"not due before {deadline} has passed, the deadline the last notice named",)
    return Landing(state, None, nxt, why, upcoming)


def reached_on_new(old: Policy, new: Policy, state: str, received: frozenset[str]) -> tuple[int, tuple[str, ...]]:
    """Index of the last step counted as reached on `new` (-1: none), and the reasons."""
    ids = [step.id for step in new.steps]
    if state == NEW:
        reached, why = -1, ("no step sent yet",)
    elif state in ids:
        reached, why = ids.index(state), (f"stays in {state}",)
    else:
        target = new.migrate.target_of(state) or _next_surviving(old, state, new)
        named = "migrate.map names" if new.migrate.target_of(state) else "the next step is"
        if target is None and old.name != new.name:
            reached, why = -1, (f"{new.name} has no step {state}: it starts after the steps already received",)
        else:
            reached = new.step_index(target) - 1 if target else len(ids) - 1
            last = new.escalation.id if new.escalation is not None else "the end of the ladder (no escalation)"
            why = (f"step {state} is gone; {named} {target or last}",)
    return _guarded(new, reached, received, why)


def _guarded(new: Policy, reached: int, received: frozenset[str], why: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    """Never re-send a received step; never jump over a required step not yet received."""
    ids = [step.id for step in new.steps]
    base = max((ids.index(step) for step in received if step in ids), default=-1)
    if reached < base:
        reached, why = base, (*why, f"{ids[base]} was already received: not sent again")
    for index in range(base + 1, reached + 1):
        step = new.steps[index]
        if step.required and step.id not in received:
            return index - 1, (*why, f"required step {step.id} was never received: it comes next")
    return reached, why


def _next_surviving(old: Policy, state: str, new: Policy) -> str | None:
    """The first step after `state` in the old order that the new version still has (regular steps only)."""
    ids = {step.id for step in new.steps}
    try:
        after = old.steps[old.step_index(state) + 1:]
    except KeyError:  # a step of another policy: nothing to follow
        return None
    return next((step.id for step in after if step.id in ids), None)


def _last_deadline(old: Policy, state: str, last_step_on: date | None) -> date | None:
    """The pay-by date the last notice named (its step's `pay_within_days` after it went out)."""
    if state == NEW or last_step_on is None:
        return None
    try:
        step = old.step(state)
    except KeyError:
        return None
    return last_step_on + timedelta(days=step.pay_within_days)
