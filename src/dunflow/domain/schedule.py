"""When is which step due? The pure timing rules of a policy.

Rules (documented in the README, "Timing rules"):
- a step's date is its anchor plus its delay: the due date, the issue date, the date
  the previous step was actually sent, or the end of the month containing due date +
  delay; a delay in months keeps the day of the month, clamped to the month end;
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
  invoice is overdue;
- a repeating step goes out again `every` after its last sending, at most `times`
  sendings in all, as long as no later step is due (a later step always wins).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dunflow.domain.calendar import (
    BusinessDay,
    add_months,
    any_day,
    end_of_month,
    next_business_day,
)
from dunflow.domain.policy import Delay, Policy, Step


@dataclass(frozen=True)
class Due:
    """A step to take now, and the ones passed over to get there (with their planned dates).

    `repeat` counts the sendings of a repeating step before this one (0: its first sending)."""

    index: int
    step: Step
    planned_on: date
    skipped: tuple[tuple[Step, date], ...] = ()
    repeat: int = 0


def after(day: date, delay: Delay) -> date:
    """`day` moved by a delay: first its months (clamped to the month end), then its days."""
    return add_months(day, delay.months) + timedelta(days=delay.days)


def raw_date(step: Step, due_date: date, previous_on: date | None, issue_date: date | None = None) -> date:
    """Anchor plus delay, before the minimum gap and the business-day shift."""
    anchor = step.after.anchor
    if anchor == "end_of_month":
        return end_of_month(after(due_date, step.after))
    if anchor == "previous_step":
        return after(previous_on or due_date, step.after)
    if anchor == "issue_date":
        return after(issue_date or due_date, step.after)
    return after(due_date, step.after)


def sends_any_day(policy: Policy, step: Step) -> bool:
    """May this step go out on a weekend or holiday? Only if every channel it may use (its fallback too) is one
    the policy lists in `send_any_day`."""
    channels = {*step.channels, *([step.fallback] if step.fallback else [])}
    return bool(channels) and channels <= policy.settings.send_any_day


def step_calendar(policy: Policy, step: Step, is_business_day: BusinessDay) -> BusinessDay:
    """The days this step may go out on: any day for the `send_any_day` channels, else business days."""
    return any_day if sends_any_day(policy, step) else is_business_day


def _raw_sending(step: Step, due_date: date, issue_date: date | None, k: int) -> date | None:
    """The unshifted date the k-th sending of a step (0: the first) was planned for; None when it depends on
    when the step before it went out."""
    if step.after.anchor == "previous_step":
        return None
    first = raw_date(step, due_date, None, issue_date)
    if k == 0 or step.repeat is None:
        return first
    every = step.repeat.every
    return add_months(first, every.months * k) + timedelta(days=every.days * k)


def counts_from(policy: Policy, index: int, due_date: date, sent_on: date | None, is_business_day: BusinessDay,
                *, issue_date: date | None = None, repeats: int = 0) -> date | None:
    """The day a notice of step `index`, sent on `sent_on`, is counted from by what follows it: the day it was
    planned for when only the business-day shift moved it to `sent_on` (so the shift does not drift the rest of
    the schedule); otherwise (sent late, after a pause, moved by the minimum gap) the day it went out."""
    if sent_on is None or index < 0:
        return sent_on
    step = policy.all_steps[index]
    planned = _raw_sending(step, due_date, issue_date, repeats)
    if planned is None or planned >= sent_on:
        return sent_on
    shifted = next_business_day(planned, step_calendar(policy, step, is_business_day))
    return planned if shifted == sent_on else sent_on


def pay_by_passed(policy: Policy, reached: int, reached_on: date | None) -> date | None:
    """The first day after the pay-by date the notice of step `reached` named (None: no notice yet)."""
    if reached < 0 or reached_on is None:
        return None
    return reached_on + timedelta(days=policy.all_steps[reached].pay_within_days + 1)


def planned_date(
    policy: Policy, index: int, due_date: date, previous_on: date | None, is_business_day: BusinessDay,
    *, issue_date: date | None = None, repeats: int = 0, not_before: date | None = None,
) -> date:
    """The date step `index` falls on, given when the step before it went out (None: no step yet), how often
    that one was repeated, and the day the last notice's deadline has passed (`not_before`)."""
    step = policy.all_steps[index]
    anchor = previous_on
    if step.after.anchor == "previous_step":
        anchor = counts_from(policy, index - 1, due_date, previous_on, is_business_day, issue_date=issue_date,
                             repeats=repeats)
    day = raw_date(step, due_date, anchor, issue_date)
    if previous_on is not None:
        day = max(day, previous_on + timedelta(days=policy.settings.min_days_between_steps))
    if not_before is not None:
        day = max(day, not_before)
    return next_business_day(day, step_calendar(policy, step, is_business_day))


def repeat_date(policy: Policy, reached: int, due_date: date, reached_on: date | None, repeats: int,
                is_business_day: BusinessDay, *, issue_date: date | None = None) -> date | None:
    """When the step reached goes out again, or None (it does not repeat, or has gone out `times` times)."""
    if reached < 0 or reached >= len(policy.steps) or reached_on is None:
        return None
    step = policy.steps[reached]
    if step.repeat is None or repeats + 1 >= step.repeat.times:
        return None
    anchor = counts_from(policy, reached, due_date, reached_on, is_business_day, issue_date=issue_date,
                         repeats=repeats) or reached_on
    day = max(after(anchor, step.repeat.every), reached_on + timedelta(days=policy.settings.min_days_between_steps))
    return next_business_day(day, step_calendar(policy, step, is_business_day))


def next_planned(
    policy: Policy,
    reached: int,
    due_date: date,
    reached_on: date | None,
    as_of: date,
    is_business_day: BusinessDay,
    *,
    issue_date: date | None = None,
    repeats: int = 0,
) -> date | None:
    """When to look at the case again after `as_of`: the next step's date, or the step's repetition if that
    comes first; None once nothing is left to send."""
    index = next_step(policy, reached, due_date, as_of)
    dates = [planned_date(policy, index, due_date, reached_on, is_business_day, issue_date=issue_date,
                          repeats=repeats, not_before=pay_by_passed(policy, reached, reached_on))
             if index is not None else None,
             repeat_date(policy, reached, due_date, reached_on, repeats, is_business_day, issue_date=issue_date)]
    found = [d for d in dates if d is not None]
    return min(found) if found else None


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
    *,
    issue_date: date | None = None,
    repeats: int = 0,
) -> Due | None:
    """The step to send on `as_of` after step `reached` (-1: none yet) went out on `reached_on` (`repeats`
    times again since): a later step if one is due, else the repetition of the step reached if due."""
    candidates: list[tuple[int, Step, date]] = []
    previous_on, deadline = reached_on, pay_by_passed(policy, reached, reached_on)
    last_regular = len(policy.steps) - 1
    for index in range(reached + 1, len(policy.all_steps)):
        step = policy.all_steps[index]
        if _expired(step, due_date, as_of):
            continue
        if index > last_regular and reached != last_regular:
            break  # the escalation only follows the last regular step actually sent
        on = planned_date(policy, index, due_date, previous_on, is_business_day, issue_date=issue_date,
                          repeats=repeats if index == reached + 1 else 0, not_before=deadline)
        if on > as_of:
            break
        candidates.append((index, step, on))
        previous_on = on
        if step.required or policy.settings.catch_up == "next":
            break
    if not candidates:
        again = repeat_date(policy, reached, due_date, reached_on, repeats, is_business_day, issue_date=issue_date)
        if again is None or again > as_of or _expired(policy.steps[reached], due_date, as_of):
            return None
        return Due(index=reached, step=policy.steps[reached], planned_on=again, repeat=repeats + 1)
    index, step, on = candidates[-1]
    return Due(index=index, step=step, planned_on=on, skipped=tuple((s, d) for _, s, d in candidates[:-1]))


def _expired(step: Step, due_date: date, as_of: date) -> bool:
    """A courtesy reminder makes no sense once the invoice is overdue."""
    return step.is_courtesy and as_of > due_date


def _delay_words(delay: Delay) -> str:
    parts = [f"{delay.months} month{'s' if delay.months != 1 else ''}"] if delay.months else []
    if delay.days or not parts:
        parts.append(f"{abs(delay.days) if not parts else delay.days} days")
    return " + ".join(parts)


def _base_words(step: Step, due_date: date, previous_on: date | None, issue_date: date | None) -> str:
    delay, words = step.after, _delay_words(step.after)
    if delay.anchor == "previous_step":
        return f"{words} after the previous step ({previous_on or due_date})"
    if delay.anchor == "end_of_month":
        return f"end of the month of due date {due_date} + {words}"
    if delay.anchor == "issue_date":
        return f"{words} after the issue date {issue_date or due_date}"
    if step.is_courtesy:
        return f"{words} before the due date {due_date}"
    return f"{words} after the due date {due_date}"


def explain(policy: Policy, step: Step, due_date: date, previous_on: date | None, planned_on: date,
            previous: Step | None = None, *, issue_date: date | None = None,
            is_business_day: BusinessDay | None = None, repeats: int = 0) -> str:
    """Why a step falls on its date, in words for the audit trail and `show invoice` (`previous`: the step
    whose notice went out on `previous_on`).

    With `is_business_day`, a previous step that only the business-day shift moved is counted from the day it
    was planned for, as `planned_date` does."""
    anchor = previous_on
    if is_business_day is not None and step.after.anchor == "previous_step":
        anchor = counts_from(policy, policy.all_steps.index(step) - 1, due_date, previous_on, is_business_day,
                             issue_date=issue_date, repeats=repeats)
    earliest = raw_date(step, due_date, anchor, issue_date)
    reasons = [f"{step.id}: {_base_words(step, due_date, anchor, issue_date)} = {earliest}"]
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
    elif sends_any_day(policy, step) and is_business_day is not None and not is_business_day(planned_on):
        reasons.append(f"{'/'.join(step.channels)} may go out on a weekend or holiday (send_any_day)")
    return "; ".join(reasons)


def explain_repeat(step: Step, previous_on: date | None, planned_on: date, repeat: int) -> str:
    """Why a repeating step goes out again today."""
    assert step.repeat is not None
    return (f"{step.id} again ({repeat + 1} of at most {step.repeat.times}): every {_delay_words(step.repeat.every)}"
            f" after the last one ({previous_on}), due {planned_on}")
