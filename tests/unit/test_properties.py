"""Properties of the pure dunning decision over random policies, run calendars and open amounts.

Each example builds a valid policy in memory, imports one invoice (next look =
the first step's planned date), then plays a random increasing sequence of run
dates through the pure `decide`, the way the runner does: a case is only looked
at when its next look has come, and a payment fires 'pay' before the run of
the day it arrives (and ends the simulation: what a payment stops is proven
through the real runner, events and outbox in tests/integration/test_dunning_properties.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dunflow.domain.calendar import BusinessDay, weekdays_only
from dunflow.domain.policy import (
    FINAL_STATES,
    Delay,
    Escalation,
    Policy,
    Settings,
    Step,
)
from dunflow.domain.schedule import planned_date
from dunflow.engine.advance import CaseFacts, decide
from dunflow.policy.compile import CaseState, CompiledPolicy, compile_policy
from dunflow.policy.versions import business_days

FIRST_DUE = date(2026, 10, 1)
MINIMUM = Decimal("5.00")
OPEN_AMOUNTS = [Decimal(a) for a in ("0.01", "4.99", "5.00", "500.00")]
CALENDARS: dict[str, BusinessDay] = {"weekdays": weekdays_only, "DE": business_days("DE"),
                                     "NL": business_days("NL")}


@st.composite
def delays(draw: st.DrawFn, count: int) -> list[Delay]:
    """`count` delays that each fall later than the one before (what the delay-order rule demands)."""
    found: list[Delay] = []
    offset = draw(st.integers(-10, 20))
    if offset < 0:
        found.append(Delay(offset, "due_date"))  # a courtesy reminder before the due date
    else:
        found.append(Delay(offset, draw(st.sampled_from(["due_date", "previous_step", "end_of_month"]))))
    for _ in range(count - 1):
        gap = draw(st.integers(1, 20))
        anchor = draw(st.sampled_from(["due_date", "previous_step", "end_of_month"]))
        if anchor == "previous_step":
            found.append(Delay(gap, "previous_step"))
            offset += gap
        else:
            offset = max(offset, 0) + gap
            found.append(Delay(offset, anchor))
    return found


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(1, 5))
    *regular, last = draw(delays(count + 1))
    # A required courtesy reminder contradicts its own expiry; see test_schedule for that case.
    steps = tuple(Step(f"step-{n}", delay, ("email",), f"t/{n}", required=delay.days >= 0 and draw(st.booleans()))
                  for n, delay in enumerate(regular))
    escalation = Escalation("handover", last, ("letter",), "t/handover", kind="escalation")
    settings_ = Settings(catch_up=draw(st.sampled_from(["latest", "next"])),
                         min_days_between_steps=draw(st.integers(0, 7)), minimum_open_amount=MINIMUM)
    return Policy("random", steps, escalation, settings=settings_)


Timeline = tuple[date, list[date], date | None, Decimal]


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    """A due date, increasing run dates around it, maybe a payment date, and the open amount (maybe below
    the policy's minimum)."""
    due = FIRST_DUE + timedelta(days=draw(st.integers(0, 90)))
    offsets = draw(st.lists(st.integers(-15, 200), min_size=1, max_size=40, unique=True))
    runs = [due + timedelta(days=o) for o in sorted(offsets)]
    paid = draw(st.one_of(st.none(), st.integers(-15, 200).map(lambda o: due + timedelta(days=o))))
    return due, runs, paid, draw(st.sampled_from(OPEN_AMOUNTS))


@dataclass
class Sent:
    index: int
    on: date
    escalated: bool


@dataclass
class Simulation:
    """One invoice's case as the database would hold it, and everything that happened to it."""

    compiled: CompiledPolicy
    calendar: BusinessDay
    due: date
    open_amount: Decimal
    state: str = "new"
    resume_state: str | None = None
    last_step_on: date | None = None
    next_action_at: date | None = None
    paid_on: date | None = None
    sent: list[Sent] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    first_look: date = date.min

    def __post_init__(self) -> None:
        self.next_action_at = self.first_look = planned_date(self.compiled.policy, 0, self.due, None, self.calendar)

    def facts(self) -> CaseFacts:
        return CaseFacts(1, 1, 1, 1, self.state, self.resume_state, self.last_step_on, 0, "INV-1", "EUR",
                         Decimal("500.00"), self.open_amount, self.due - timedelta(days=30), self.due)

    def pay(self, on: date) -> None:
        case = CaseState(self.state, self.resume_state)
        self.compiled.fire("pay", case)
        self.state, self.resume_state, self.next_action_at, self.paid_on = case.state, case.resume_state, None, on

    def run(self, as_of: date) -> None:
        if self.next_action_at is None or self.next_action_at > as_of:
            return
        outcome = decide(self.compiled, self.calendar, self.facts(), as_of)
        if outcome is None:
            return
        self.state, self.resume_state = outcome.state, outcome.resume_state
        self.last_step_on, self.next_action_at = outcome.last_step_on, outcome.next_action_at
        self.skipped += [r.step for r in outcome.records if r.kind == "skipped"]
        if outcome.notice is not None:
            index = self.compiled.policy.step_index(outcome.notice.id)
            self.sent.append(Sent(index, as_of, outcome.escalated))


def simulate(policy: Policy, calendar: str, due: date, runs: list[date], paid: date | None,
             open_amount: Decimal) -> Simulation:
    sim = Simulation(compile_policy(policy), CALENDARS[calendar], due, open_amount)
    for as_of in runs:
        if sim.state in FINAL_STATES:
            break  # paid or escalated: dunning has ended (a payment after hand-over is the agency's)
        if paid is not None and paid <= as_of:
            sim.pay(paid)
            break
        sim.run(as_of)
    return sim


PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CALENDAR_NAMES = st.sampled_from(sorted(CALENDARS))


@PROPERTY
@given(policies(), CALENDAR_NAMES, timelines())
def test_steps_go_out_in_order_each_at_most_once(policy: Policy, calendar: str,
                                                 timeline: Timeline) -> None:
    sim = simulate(policy, calendar, *timeline)
    indices = [s.index for s in sim.sent]
    assert indices == sorted(set(indices)), indices


@PROPERTY
@given(policies(), CALENDAR_NAMES, timelines())
def test_a_case_below_the_minimum_gets_no_step_and_stops(policy: Policy, calendar: str, timeline: Timeline) -> None:
    sim = simulate(policy, calendar, *timeline)
    if timeline[3] < MINIMUM and sim.paid_on is None:
        assert sim.sent == [] and sim.skipped == []
        looked = any(run >= sim.first_look and CALENDARS[calendar](run) for run in timeline[1])
        assert sim.state == ("below_minimum" if looked else "new")


@PROPERTY
@given(policies(), CALENDAR_NAMES, timelines())
def test_the_escalation_only_follows_the_last_regular_step(policy: Policy, calendar: str,
                                                           timeline: Timeline) -> None:
    sim = simulate(policy, calendar, *timeline)
    last_regular = len(policy.steps) - 1
    for previous, sent in zip([None, *sim.sent], sim.sent):
        assert sent.escalated == (sent.index == len(policy.steps))
        if sent.escalated:
            assert previous is not None and previous.index == last_regular
            assert sim.state == "escalated"


@PROPERTY
@given(policies(), CALENDAR_NAMES, timelines())
def test_a_required_step_is_never_skipped(policy: Policy, calendar: str,
                                          timeline: Timeline) -> None:
    sim = simulate(policy, calendar, *timeline)
    sent = {s.index for s in sim.sent}
    for index, step in enumerate(policy.steps):
        if step.required:
            assert step.id not in sim.skipped
            assert not any(i > index for i in sent) or index in sent, (step.id, sorted(sent))


@PROPERTY
@given(policies(), CALENDAR_NAMES, timelines())
def test_notices_go_out_on_business_days_and_keep_the_minimum_gap(
        policy: Policy, calendar: str, timeline: Timeline) -> None:
    sim = simulate(policy, calendar, *timeline)
    gap = timedelta(days=policy.settings.min_days_between_steps)
    assert all(CALENDARS[calendar](s.on) for s in sim.sent)
    for previous, sent in zip(sim.sent, sim.sent[1:]):
        assert sent.on >= previous.on + gap


@PROPERTY
@given(policies(), CALENDAR_NAMES, timelines())
def test_a_courtesy_reminder_never_goes_out_after_the_due_date(
        policy: Policy, calendar: str, timeline: Timeline) -> None:
    sim = simulate(policy, calendar, *timeline)
    for sent in sim.sent:
        if policy.all_steps[sent.index].is_courtesy:
            assert sent.on <= sim.due
