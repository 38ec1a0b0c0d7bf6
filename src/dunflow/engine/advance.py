"""What happens to one due case on one day: the decision, without any I/O.

The runner feeds a `CaseFacts` and the case's compiled policy; it gets back an
`Outcome` (new state, next look, audit records, the step whose notice to send).
Time-driven pause endings (a hold that expired, a promise that was broken, an
installment that was missed) are `timers`: each fires a machine event first,
then the ordinary dunning decision runs. The timers are handed in by the caller
(built in `bootstrap`), never found in a registry an import happened to fill: a
paused case without its timer is refused loudly instead of staying paused forever.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable, Mapping

from dunflow.domain.calendar import BusinessDay
from dunflow.domain.case import CaseFacts
from dunflow.domain.policy import FINAL_STATES, TIMED_PAUSES, Step
from dunflow.domain.schedule import (
    Due,
    due_step,
    explain,
    explain_repeat,
    next_planned,
    not_before_tomorrow,
    sends_any_day,
)
from dunflow.policy.compile import CaseState, CompiledPolicy, advance_event


@dataclass(frozen=True)
class Record:
    """One audit-trail entry to write."""

    kind: str  # step | escalation | skipped | transition
    step: str
    rule: str
    status: str
    from_state: str
    to_state: str


@dataclass
class Outcome:
    facts: CaseFacts
    state: str
    resume_state: str | None
    last_step_on: date | None
    next_action_at: date | None
    records: list[Record] = field(default_factory=list)
    notice: Step | None = None
    escalated: bool = False
    waiting: bool = False  # due, but its last notice was not delivered yet
    extra: dict[str, object] = field(default_factory=dict)
    effects: list[tuple[str, int, dict[str, object]]] = field(default_factory=list)
    repeats: int = 0


# A timer looks at a paused case on its date, given what the runner loaded about the pause
# (a hold, a promise, an arrangement), and may fire an event on it.
Timer = Callable[[CompiledPolicy, CaseState, Outcome, date, Any], None]
# An invoice below the minimum whose debtor's total is below the debtor minimum is looked at again this often.
SMALL_INVOICE_WAIT_DAYS = 7


class UnwiredTimer(Exception):
    """A bug, not a user error: a paused case reached `decide` without the timer that ends its pause."""


def decide(compiled: CompiledPolicy, is_business_day: BusinessDay, facts: CaseFacts, as_of: date,
           pause: Any = None, timers: Mapping[str, Timer] | None = None, *,
           debtor_overdue: Decimal | None = None) -> Outcome | None:
    """The outcome for a due case, or None when nothing may happen today (a weekend or holiday, unless the
    policy lets the notice due today go out on any day: `send_any_day`).

    `timers` maps each timed pause state (held, promised, arrangement) to the timer that looks at it.
    `debtor_overdue`: what the debtor owes overdue in the invoice's currency (only needed, and only loaded,
    when the policy has a `debtor_minimum` and the invoice alone is below `minimum_open_amount`).
    """
    business_day = is_business_day(as_of)
    if not business_day and not compiled.policy.settings.send_any_day:
        return None
    case = CaseState(facts.state, facts.resume_state)
    outcome = Outcome(facts, case.state, case.resume_state, facts.last_step_on, None, repeats=facts.repeats)
    timer = (timers or {}).get(case.state)
    if timer is None and case.state in TIMED_PAUSES:
        raise UnwiredTimer(f"case {facts.case_id} is {case.state} but no timer for it was wired "
                           "(build the runner's timers with dunflow.bootstrap)")
    if timer is not None:
        timer(compiled, case, outcome, as_of, pause)
        if _named_target(compiled, case, facts):
            enter_step(compiled, is_business_day, case, outcome, as_of)
    if case.state in compiled.dunning_states and outcome.notice is None:
        _dun(compiled, is_business_day, case, outcome, as_of, debtor_overdue)
    outcome.state, outcome.resume_state = case.state, case.resume_state
    if not business_day and (outcome.notice is None or not sends_any_day(compiled.policy, outcome.notice)):
        return None  # only notices on the policy's any-day channels go out on a weekend or holiday
    return outcome


def transition(compiled: CompiledPolicy, case: CaseState, outcome: Outcome, event: str, rule: str,
               kind: str = "transition", step: str = "", status: str = "done") -> None:
    """Fire `event` and record it with its reason."""
    before = case.state
    compiled.fire(event, case)
    outcome.records.append(Record(kind, step, rule, status, before, case.state))


def _named_target(compiled: CompiledPolicy, case: CaseState, facts: CaseFacts) -> bool:
    """Did a pause end in a step the policy names (rather than back where the case was)?"""
    return (facts.state not in compiled.dunning_states and case.state in compiled.dunning_states
            and case.state != facts.resume_state and case.state != "new")


def enter_step(compiled: CompiledPolicy, is_business_day: BusinessDay, case: CaseState, outcome: Outcome,
               as_of: date) -> None:
    """A pause ended by sending the step the policy names (a broken promise, a defaulted arrangement)."""
    step = compiled.policy.step(case.state)
    outcome.records.append(Record("step", step.id, f"{step.id}: the policy names it after "
                                  f"{outcome.records[-1].rule if outcome.records else 'the pause'}", "queued",
                                  case.state, case.state))
    outcome.notice, outcome.repeats = step, 0  # last_step_on moves when the notice is delivered (receipts)
    outcome.next_action_at = not_before_tomorrow(next_planned(
        compiled.policy, compiled.reached_index(case.state), outcome.facts.due_date, as_of, as_of, is_business_day,
        issue_date=outcome.facts.issue_date), as_of)


def needs_debtor_total(compiled: CompiledPolicy, facts: CaseFacts) -> bool:
    """Is the invoice too small on its own, and does the policy then look at the debtor's total?"""
    settings = compiled.policy.settings
    return (facts.open_amount < settings.minimum_for(facts.currency)
            and settings.debtor_minimum_for(facts.currency) is not None)


def _dun(compiled: CompiledPolicy, is_business_day: BusinessDay, case: CaseState, outcome: Outcome,
         as_of: date, debtor_overdue: Decimal | None = None) -> None:
    facts, policy = outcome.facts, compiled.policy
    minimum, currency = policy.settings.minimum_for(facts.currency), facts.currency
    note = ""
    if facts.open_amount < minimum:
        threshold = policy.settings.debtor_minimum_for(currency)
        if threshold is None:
            rule = (f"open amount {facts.open_amount} {currency} is below the policy minimum "
                    f"{minimum} {currency}: dunning stops")
            transition(compiled, case, outcome, "settle", rule)
            return
        total = debtor_overdue or Decimal(0)
        if total < threshold:
            _wait_for_debtor_total(compiled, is_business_day, case, outcome, as_of)
            return
        note = (f" (below the minimum {minimum} {currency} on its own, but the debtor's overdue invoices in "
                f"{currency} add up to {total} {currency}, at least the debtor minimum {threshold} {currency})")
    if facts.pending:
        outcome.waiting, outcome.next_action_at = True, as_of + timedelta(days=1)
        return  # a step counts once delivered: nothing joins a notice still waiting in the outbox
    reached = compiled.reached_index(case.state)
    due = _planned(compiled, due_step, reached, facts.due_date, outcome.last_step_on, as_of, is_business_day,
                   facts.issue_date, outcome.repeats)
    if due is not None:
        _send_step(compiled, is_business_day, case, outcome, due, as_of, note)
    if case.state not in FINAL_STATES:
        # until the notice is delivered (which reschedules the case), assume it goes out today
        reached_on = as_of if outcome.notice else outcome.last_step_on
        nxt = _planned(compiled, next_planned, compiled.reached_index(case.state), facts.due_date, reached_on, as_of,
                       is_business_day, facts.issue_date, outcome.repeats)
        outcome.next_action_at = not_before_tomorrow(nxt, as_of) if outcome.notice else nxt


PLANS_KEPT = 50_000  # answers kept per policy version (dropped all at once when full: a year of daily runs fits)


def _planned(compiled: CompiledPolicy, plan: Callable[..., Any], reached: int, due_date: date,
             reached_on: date | None, as_of: date, is_business_day: BusinessDay, issue_date: date | None,
             repeats: int) -> Any:
    """`plan(policy, …)` (`due_step`, `next_planned`: pure functions of the policy, the dates and the calendar),
    asked once per distinct arguments. The cases due on one day mostly share their due date and the day of their
    last step (invoices go out in runs), so they share the answer: most of a case's deciding was this date
    arithmetic."""
    key = (plan, reached, due_date, reached_on, as_of, is_business_day, issue_date, repeats)
    memo = compiled.plans
    found = memo.get(key, _UNKNOWN)
    if found is _UNKNOWN:
        if len(memo) >= PLANS_KEPT:
            memo.clear()
        found = memo[key] = plan(compiled.policy, reached, due_date, reached_on, as_of, is_business_day,
                                 issue_date=issue_date, repeats=repeats)
    return found


_UNKNOWN = object()


def _wait_for_debtor_total(compiled: CompiledPolicy, is_business_day: BusinessDay, case: CaseState,
                           outcome: Outcome, as_of: date) -> None:
    """Too small alone, and the debtor's total is too small too: the invoice waits (never dropped) and is looked
    at again at its next step's date, or a week from now if that has passed."""
    facts = outcome.facts
    nxt = next_planned(compiled.policy, compiled.reached_index(case.state), facts.due_date, outcome.last_step_on,
                       as_of, is_business_day, issue_date=facts.issue_date, repeats=outcome.repeats)
    outcome.next_action_at = None if nxt is None else max(nxt, as_of + timedelta(days=SMALL_INVOICE_WAIT_DAYS))


def _send_step(compiled: CompiledPolicy, is_business_day: BusinessDay, case: CaseState, outcome: Outcome,
               due: Due, as_of: date, note: str = "") -> None:
    """Move to the due step (or send the step reached once more), recording the steps passed over."""
    facts, policy = outcome.facts, compiled.policy
    for step, planned_on in due.skipped:
        outcome.records.append(Record(
            "skipped", step.id, f"catch-up: {step.id} was due {planned_on}, but {due.step.id} is due too; "
            f"only the latest due step is sent ({policy.settings.catch_up})", "skipped", case.state, case.state))
    escalating = due.index == len(policy.steps)
    if due.repeat:
        why = explain_repeat(due.step, outcome.last_step_on, due.planned_on, due.repeat)
    else:
        reached = compiled.reached_index(case.state)
        previous = policy.all_steps[reached] if reached >= 0 else None
        why = explain(policy, due.step, facts.due_date, outcome.last_step_on, due.planned_on, previous,
                      issue_date=facts.issue_date, is_business_day=is_business_day, repeats=outcome.repeats)
    transition(compiled, case, outcome, advance_event(due.step.id), why + note,
               "escalation" if escalating else "step", due.step.id, "queued")
    outcome.notice, outcome.escalated = due.step, escalating  # last_step_on: when delivered (receipts)
    outcome.repeats = due.repeat


def next_look(compiled: CompiledPolicy, is_business_day: BusinessDay, state: str, due_date: date,
              last_step_on: date | None, as_of: date, *, issue_date: date | None = None,
              repeats: int = 0) -> date | None:
    """When a case in a dunning state should be looked at again (used after events resume a case)."""
    if state not in compiled.dunning_states:
        return None
    return next_planned(compiled.policy, compiled.reached_index(state), due_date, last_step_on, as_of,
                        is_business_day, issue_date=issue_date, repeats=repeats)
