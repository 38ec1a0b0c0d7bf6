"""The run steps cases through a lookup derived from the compiled machine: it must answer as the machine does."""
from __future__ import annotations

import pytest

from dunflow.domain.policy import Policy
from dunflow.errors import DunflowError
from dunflow.policy.compile import CaseState, CompiledPolicy, Refusal, compile_policy
from dunflow.policy.validate import load_policies
from dunflow.rendering.templates import TemplateStore
from dunflow.resources import resource_path

SHIPPED = resource_path("policies")
TEMPLATES = TemplateStore(resource_path("templates"))
POLICIES = load_policies(SHIPPED, TEMPLATES).policies


@pytest.mark.parametrize("policy", POLICIES, ids=[p.name for p in POLICIES])
def test_the_lookup_answers_like_the_machine_for_every_state_and_event_of_every_shipped_policy(policy: Policy) -> None:
    compiled = compile_policy(policy)
    table = compiled.step_table()
    events = set(compiled.machine.events)
    assert {event for event, _, _ in table} == events and {state for _, state, _ in table} == set(compiled.states)
    fresh = compile_policy(compiled.policy, compiled.version)
    for (event, state, resume), answer in table.items():
        case = CaseState(state, resume)
        try:
            moved = fresh.machine.events[event].trigger(case)
        except Exception:  # noqa: BLE001
            assert isinstance(answer, Refusal), (event, state, resume, answer)
            continue
        if not moved:
            assert isinstance(answer, Refusal), (event, state, resume)
            continue
        assert answer == (case.state, case.resume_state), (event, state, resume)
        # and `fire`, which uses the kept answers, moves a case the same way
        stepped = CaseState(state, resume)
        compiled.fire(event, stepped)
        assert (stepped.state, stepped.resume_state) == (case.state, case.resume_state)


def test_an_event_the_policy_does_not_allow_is_refused_each_time_with_the_same_user_error() -> None:
    compiled = compile_policy(POLICIES[0])
    messages = []
    for _ in range(2):  # the second time from the kept answer
        with pytest.raises(DunflowError) as refused:
            compiled.fire("cancel", CaseState("paid"))
        messages.append((refused.value.message, refused.value.hint))
    assert messages[0] == messages[1] and "not possible from state 'paid'" in messages[0][0]
    assert "dunning has ended" in messages[0][1]
