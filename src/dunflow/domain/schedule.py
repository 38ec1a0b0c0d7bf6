"""When is which step due? The pure timing rules of a policy.

Rules (documented in the README, "Timing rules"):
- a step's date is its anchor plus its delay: the due date, the date the previous
  step was actually sent, or the end of the month containing due date + delay;
- never closer than `min_days_between_steps` after the previous notice, and never
  before the pay-by date the previous notice named has passed (its delivery day +
  `pay_within_days`; the next notice comes the day after at the earliest);
- moved forward onto the next business day of the policy's calendar;
- catch-up: when several steps became due since the last run, only the latest
  due one is sent (`catch_up: latest`, the default) or only the next one
  (`catch_up: next`); the skipped ones are recorded, never sent in a burst.
  Catch-up never jumps over a `required` step, and the escalation is only
  reached from the last regular step actually sent;
- a courtesy reminder (negative delay before the due date) expires once the
  invoice is overdue.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dunflow.domain.calendar import BusinessDay, end_of_month, next_business_day
from dunflow.domain.policy import Policy, Step


@dataclass(frozen=True)
class Due:
    """A step to take now, and the ones passed over to get there (with their planned dates)."""

    index: int
    step: Step
    planned_on: date
    skipped: tuple[tuple[Step, date], ...] = ()


def pay_by_passed(policy: Policy, reached: int, reached_on: date | None) -> date | None:
    """The first day after the pay-by date the notice of step `reached` named (None: no notice yet)."""
    if reached < 0 or reached_on is None:
        return None
    return reached_on + timedelta(days=policy.all_steps[reached].pay_within_days + 1)


def planned_date(
    policy: Policy, index: int, due_date: date, previous_on: date | None, is_business_day: BusinessDay,
    not_before: date | None = None,
) -> date:
    """The date step `index` falls on, given when the step before it went out (None: no step yet) and the
    day the last notice's deadline has passed (`not_before`)."""
    step = policy.all_steps[index]
    delay = timedelta(days=step.after.days)
    if step.after.anchor == "previous_step":
        day = (previous_on or due_date) + delay
    elif step.after.anchor == "end_of_month":
        day = end_of_month(due_date + delay)
    else:
        day = due_date + delay
    if previous_on is not None:
        day = max(day, previous_on + timedelta(days=policy.settings.min_days_between_steps))
    if not_before is not None:
        day = max(day, not_before)
    return next_business_day(day, is_business_day)


def next_planned(
    policy: Policy,
    reached: int,
    due_date: date,
    reached_on: date | None,
    as_of: date,
    is_business_day: BusinessDay,
) -> date | None:
    """When to look at the case again after `as_of`; None once no step is left to send."""
    index = next_step(policy, reached, due_date, as_of)
    if index is None:
        return None
    return planned_date(policy, index, due_date, reached_on, is_business_day, pay_by_passed(policy, reached, reached_on))


def next_step(policy: Policy, reached: int, due_date: date, as_of: date) -> int | None:
    """Index of the next step that may still go out on `as_of` (expired courtesy reminders are passed over)."""
    for index in range(reached + 1, len(policy.all_steps)):
        if not _expired(policy.all_steps[index], due_date, as_of):
            return index
    return None


def not_before_tomorrow(planned: date | None, as_of: date) -> date | None:
    """After a notice went out today, the next look is tomorrow at the earliest: never two on one day."""
    return max(planned, as_of + timedelta(days=1)) if planned else None


def due_step(
    policy: Policy,
    reached: int,
    due_date: date,
    reached_on: date | None,
    as_of: date,
    is_business_day: BusinessDay,
) -> Due | None:
    """The step to send on `as_of` after step `reached` (-1: none yet) went out on `reached_on`."""
    candidates: list[tuple[int, Step, date]] = []
    previous_on, deadline = reached_on, pay_by_passed(policy, reached, reached_on)
    last_regular = len(policy.steps) - 1
    for index in range(reached + 1, len(policy.all_steps)):
        step = policy.all_steps[index]
        if _expired(step, due_date, as_of):
            continue
        if index > last_regular and reached != last_regular:
            break  # the escalation only follows the last regular step actually sent
        on = planned_date(policy, index, due_date, previous_on, is_business_day, deadline)
        if on > as_of:
            break
        candidates.append((index, step, on))
        previous_on = on
        if step.required or policy.settings.catch_up == "next":
            break
    if not candidates:
        return None
    index, step, on = candidates[-1]
    return Due(index=index, step=step, planned_on=on, skipped=tuple((s, d) for _, s, d in candidates[:-1]))


def _expired(step: Step, due_date: date, as_of: date) -> bool:
    """A courtesy reminder makes no sense once the invoice is overdue."""
    return step.is_courtesy and as_of > due_date


def explain(policy: Policy, step: Step, due_date: date, previous_on: date | None, planned_on: date,
            previous: Step | None = None) -> str:
    """Why a step falls on its date, in words for the audit trail and `show invoice` (`previous`: the step
    whose notice went out on `previous_on`)."""
    days = step.after.days
    if step.after.anchor == "previous_step":
        base, raw = f"{days} days after the previous step ({previous_on or due_date})", (previous_on or due_date)
    elif step.after.anchor == "end_of_month":
        base, raw = f"end of the month of due date {due_date} + {days} days", end_of_month(due_date + timedelta(days))
        days = 0
    elif days < 0:
        base, raw = f"{-days} days before the due date {due_date}", due_date
    else:
        base, raw = f"{days} days after the due date {due_date}", due_date
    reasons = [f"{step.id}: {base} = {raw + timedelta(days=days)}"]
    earliest = raw + timedelta(days=days)
    gap = policy.settings.min_days_between_steps
    if previous_on is not None and previous_on + timedelta(days=gap) > earliest:
        earliest = previous_on + timedelta(days=gap)
        reasons.append(f"not before {earliest} ({gap} days after the previous notice)")
    if previous is not None and previous_on is not None:
        pay_by = previous_on + timedelta(days=previous.pay_within_days)
        if pay_by + timedelta(days=1) > earliest:
            earliest = pay_by + timedelta(days=1)
            reasons.append(f"not before {earliest} (the previous notice asked for payment by {pay_by})")
    if planned_on > earliest:
        reasons.append(f"moved to the next business day {planned_on}")
    return "; ".join(reasons)
