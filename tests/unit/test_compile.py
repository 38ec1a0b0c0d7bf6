"""The compiler: one shared, model-free state machine per policy, and what it lets a case do."""
from __future__ import annotations

import textwrap

import pytest

from dunflow.domain.policy import FINAL_STATES, PAUSE_STATES, Policy
from dunflow.errors import DunflowError
from dunflow.policy.build import build_policy
from dunflow.policy.compile import (
    CaseState,
    CompiledPolicy,
    advance_event,
    compile_policy,
    draw,
)
from dunflow.policy.load import load_yaml_text
from dunflow.policy.schema import schema_problems

POLICY = """\
apiVersion: dunflow/v1
kind: Policy
metadata: {name: b2b-test}
applies_to: {priority: 10, match: {}}
settings: {timezone: Europe/Berlin, calendar: DE, language: de}
steps:
  - {id: courtesy, after: {days: -3}, channels: [email], template: b2b/courtesy}
  - {id: reminder, after: {days: 7}, channels: [email], template: b2b/reminder}
  - {id: first-notice, after: {days: 14}, channels: [email, letter], template: b2b/first-notice}
  - {id: final-notice, after: {days: 28}, channels: [letter], template: b2b/final-notice, required: true}
escalation: {id: handover, after: {days: 42}, to: collection_agency, channels: [letter], template: b2b/handover}
events:
  promise: {on_broken: final-notice}
"""
STEPS = ("courtesy", "reminder", "first-notice", "final-notice")


def policy_from_yaml(text: str) -> Policy:
    document, problems = load_yaml_text(textwrap.dedent(text), "inline.yaml")
    assert document is not None and not problems
    assert not schema_problems(document)
    return build_policy(document.data, "inline.yaml")


@pytest.fixture(scope="module")
def compiled() -> CompiledPolicy:
    return compile_policy(policy_from_yaml(POLICY), version=3, content_hash="abc")


def walk(compiled: CompiledPolicy, *events: str, start: str = "new") -> CaseState:
    case = CaseState(start)
    for event in events:
        compiled.fire(event, case)
    return case


def sources(compiled: CompiledPolicy, event: str) -> set[str]:
    return set(compiled.machine.events[event].transitions)


def test_states_are_new_then_the_steps_then_the_pauses_and_the_ends(compiled: CompiledPolicy) -> None:
    assert compiled.states[:5] == ("new", *STEPS)
    assert set(compiled.states[5:]) == PAUSE_STATES | FINAL_STATES
    assert len(compiled.states) == len(set(compiled.states)) == 1 + len(STEPS) + 4 + 4
    assert "handover" not in compiled.states  # the escalation step ends in `escalated`
    assert compiled.dunning_states == ("new", *STEPS)


def test_advance_events_only_go_forward(compiled: CompiledPolicy) -> None:
    order = list(compiled.dunning_states)
    for index, step in enumerate(STEPS, start=1):
        assert sources(compiled, advance_event(step)) == set(order[:index])


@pytest.mark.parametrize("state, event", [("first-notice", "advance_reminder"), ("reminder", "advance_reminder"),
                                          ("final-notice", "advance_courtesy")])
def test_advancing_to_an_earlier_or_the_same_step_is_refused(compiled: CompiledPolicy, state: str,
                                                             event: str) -> None:
    with pytest.raises(DunflowError):
        compiled.fire(event, CaseState(state))


def test_catch_up_may_jump_forward_over_steps(compiled: CompiledPolicy) -> None:
    assert walk(compiled, "advance_final-notice").state == "final-notice"


def test_escalation_is_only_reachable_from_the_last_regular_step(compiled: CompiledPolicy) -> None:
    assert sources(compiled, advance_event("handover")) == {"final-notice"}
    assert walk(compiled, "advance_final-notice", "advance_handover").state == "escalated"
    for state in ("new", "courtesy", "reminder", "first-notice"):
        assert not compiled.can("advance_handover", CaseState(state))
        with pytest.raises(DunflowError):
            compiled.fire("advance_handover", CaseState(state))


def test_an_illegal_event_raises_a_user_error_naming_the_state(compiled: CompiledPolicy) -> None:
    with pytest.raises(DunflowError) as caught:
        compiled.fire("advance_reminder", CaseState("paid"))
    assert "'paid'" in caught.value.message
    assert "b2b-test v3" in caught.value.message
    assert "dunning has ended" in caught.value.hint


def test_an_unknown_event_raises_a_user_error_not_a_key_error(compiled: CompiledPolicy) -> None:
    with pytest.raises(DunflowError) as caught:
        compiled.fire("advance_nonsense", CaseState("reminder"))
    assert "'reminder'" in caught.value.message


def test_end_states_accept_no_event_but_a_returned_payment_reopens_paid_ones(compiled: CompiledPolicy) -> None:
    for state in FINAL_STATES:
        for event in compiled.machine.events:
            allowed = event == "reopen" and state in ("paid", "below_minimum")
            assert compiled.can(event, CaseState(state)) is allowed, (state, event)


def test_a_paid_case_reopens_at_the_step_the_payment_found_it_in(compiled: CompiledPolicy) -> None:
    case = CaseState("reminder")
    compiled.fire("pay", case)
    assert (case.state, case.resume_state) == ("paid", "reminder")
    compiled.fire("reopen", case)
    assert (case.state, case.resume_state) == ("reminder", None)


def test_one_machine_steps_many_cases_without_keeping_them(compiled: CompiledPolicy) -> None:
    cases = [CaseState() for _ in range(500)]
    for n, case in enumerate(cases):
        compiled.fire(advance_event(STEPS[n % len(STEPS)]), case)
    assert [c.state for c in cases[:4]] == list(STEPS)
    assert compiled.machine.models == []  # never add_model: no invoice is kept in memory
    assert not hasattr(cases[0], "__dict__")  # nothing was bound onto the case


def test_cases_stepped_by_one_machine_do_not_share_state(compiled: CompiledPolicy) -> None:
    first, second = CaseState(), CaseState("reminder")
    compiled.fire("advance_first-notice", second)
    assert (first.state, second.state) == ("new", "first-notice")


@pytest.mark.parametrize("start", ["new", "reminder", "final-notice"])
def test_dispute_then_resolve_returns_to_the_remembered_state(compiled: CompiledPolicy, start: str) -> None:
    case = CaseState(start)
    compiled.fire("dispute", case)
    assert (case.state, case.resume_state) == ("disputed", start)
    compiled.fire("resolve", case)
    assert (case.state, case.resume_state) == (start, None)


def test_hold_then_release_returns_to_the_remembered_state(compiled: CompiledPolicy) -> None:
    case = walk(compiled, "advance_first-notice", "hold")
    assert (case.state, case.resume_state) == ("held", "first-notice")
    compiled.fire("release", case)
    assert (case.state, case.resume_state) == ("first-notice", None)


def test_a_pause_during_a_pause_keeps_the_first_remembered_state(compiled: CompiledPolicy) -> None:
    case = walk(compiled, "advance_reminder", "promise", "dispute")
    assert (case.state, case.resume_state) == ("disputed", "reminder")
    compiled.fire("resolve", case)
    assert case.state == "reminder"


def test_a_broken_promise_goes_to_the_on_broken_step(compiled: CompiledPolicy) -> None:
    case = walk(compiled, "advance_reminder", "promise", "break_promise")
    assert (case.state, case.resume_state) == ("final-notice", None)


def test_without_on_broken_a_broken_promise_returns_to_the_remembered_state() -> None:
    plain = compile_policy(policy_from_yaml(POLICY.replace("  promise: {on_broken: final-notice}\n",
                                                           "  promise: {grace_days: 3}\n")))
    case = walk(plain, "advance_first-notice", "promise", "break_promise")
    assert (case.state, case.resume_state) == ("first-notice", None)


def test_paying_ends_dunning_from_a_step_or_a_pause(compiled: CompiledPolicy) -> None:
    assert walk(compiled, "advance_reminder", "pay").state == "paid"
    assert walk(compiled, "advance_reminder", "dispute", "pay").state == "paid"
    with pytest.raises(DunflowError):
        walk(compiled, "advance_reminder", "pay", "pay")


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_diagrams_contain_every_state(compiled: CompiledPolicy, fmt: str) -> None:
    drawn = draw(compiled, fmt)
    assert "b2b-test v3" in drawn
    for state in compiled.states:
        assert state in drawn, state


def test_the_mermaid_diagram_draws_every_advance_transition(compiled: CompiledPolicy) -> None:
    drawn = draw(compiled, "mermaid")
    assert "final-notice --> escalated: advance_handover" in drawn
    assert "reminder --> first-notice: advance_first-notice" in drawn
