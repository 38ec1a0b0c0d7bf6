"""What happens to one due case on one day: the decision, without any I/O.

The runner feeds a `CaseFacts` and the case's compiled policy; it gets back an
`Outcome` (new state, next look, audit records, the step whose notice to send).
Time-driven pause endings (a hold that expired, a promise that was broken, an
installment that was missed) are `timers`: each fires a machine event first,
then the ordinary dunning decision runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Callable

from dunflow.domain.calendar import BusinessDay
from dunflow.domain.policy import FINAL_STATES, Step
from dunflow.domain.schedule import due_step, explain, next_planned, not_before_tomorrow
from dunflow.policy.compile import CaseState, CompiledPolicy, advance_event


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    invoice_id: int
    debtor_id: int
    policy_version_id: int
    state: str
    resume_state: str | None
    last_step_on: date | None
    revision: int
    number: str
    currency: str
    amount: Decimal
    open_amount: Decimal
    issue_date: date
    due_date: date
    next_action_at: date | None = None
    delivered_state: str = "new"  # the last step whose notice the debtor received
    pending: bool = False  # a message about this case still waits for delivery


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


# A timer looks at a paused case on its date, given what the runner loaded about the pause
# (a hold, a promise, an arrangement), and may fire an event on it.
Timer = Callable[[CompiledPolicy, CaseState, Outcome, date, Any], None]
TIMERS: dict[str, Timer] = {}


def decide(compiled: CompiledPolicy, is_business_day: BusinessDay, facts: CaseFacts, as_of: date,
           pause: Any = None) -> Outcome | None:
    """The outcome for a due case, or None when nothing may happen today (a weekend or holiday)."""
    if not is_business_day(as_of):
        return None
    case = CaseState(facts.state, facts.resume_state)
    outcome = Outcome(facts, case.state, case.resume_state, facts.last_step_on, None)
    timer = TIMERS.get(case.state)
    if timer is not None:
        timer(compiled, case, outcome, as_of, pause)
        if _named_target(compiled, case, facts):
            enter_step(compiled, is_business_day, case, outcome, as_of)
    if case.state in compiled.dunning_states and outcome.notice is None:
        _dun(compiled, is_business_day, case, outcome, as_of)
    outcome.state, outcome.resume_state = case.state, case.resume_state
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
    outcome.notice = step
    outcome.next_action_at = not_before_tomorrow(next_planned(
        compiled.policy, compiled.reached_index(case.state), outcome.facts.due_date, as_of, as_of, is_business_day),
        as_of)


def _dun(compiled: CompiledPolicy, is_business_day: BusinessDay, case: CaseState, outcome: Outcome,
         as_of: date) -> None:
    facts, policy = outcome.facts, compiled.policy
    minimum = policy.settings.minimum_for(facts.currency)
    if facts.open_amount < minimum:
        rule = (f"open amount {facts.open_amount} {facts.currency} is below the policy minimum "
                f"{minimum} {facts.currency}: dunning stops")
        transition(compiled, case, outcome, "settle", rule)
        return
    if facts.pending:
        outcome.waiting, outcome.next_action_at = True, as_of + timedelta(days=1)
        return  # a step counts once delivered: nothing joins a notice still waiting in the outbox
    reached = compiled.reached_index(case.state)
    due = due_step(policy, reached, facts.due_date, outcome.last_step_on, as_of, is_business_day)
    if due is not None:
        for step, planned_on in due.skipped:
            outcome.records.append(Record(
                "skipped", step.id, f"catch-up: {step.id} was due {planned_on}, but {due.step.id} is due too; "
                f"only the latest due step is sent ({policy.settings.catch_up})", "skipped", case.state, case.state))
        escalating = due.index == len(policy.steps)
        previous = policy.all_steps[reached] if reached >= 0 else None
        why = explain(policy, due.step, facts.due_date, outcome.last_step_on, due.planned_on, previous)
        transition(compiled, case, outcome, advance_event(due.step.id), why, "escalation" if escalating else "step", due.step.id, "queued")
        outcome.notice, outcome.escalated = due.step, escalating
    if case.state not in FINAL_STATES:
        # until the notice is delivered (which reschedules the case), assume it goes out today
        reached_on = as_of if outcome.notice else outcome.last_step_on
        nxt = next_planned(policy, compiled.reached_index(case.state), facts.due_date, reached_on, as_of,
                           is_business_day)
        outcome.next_action_at = not_before_tomorrow(nxt, as_of) if outcome.notice else nxt


def next_look(compiled: CompiledPolicy, is_business_day: BusinessDay, state: str, due_date: date,
              last_step_on: date | None, as_of: date) -> date | None:
    """When a case in a dunning state should be looked at again (used after events resume a case)."""
    if state not in compiled.dunning_states:
        return None
    return next_planned(compiled.policy, compiled.reached_index(state), due_date, last_step_on, as_of,
                        is_business_day)
