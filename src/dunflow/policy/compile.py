"""Policy → one shared, model-free `transitions.Machine` per policy version.

States are `new`, one per regular step, the pauses (disputed, promised, held,
arrangement) and the end states (paid, cancelled, below_minimum, escalated).
Entering a step's state means that step's notice goes out. Cases are plain
slotted objects stepped through `machine.events[name].trigger(case)`; we never
build a Machine per invoice (measured 10-25x slower) nor `add_model` (keeps
every invoice in memory).

The list of transitions is kept as data on the compiled policy, so `graph`
draws exactly the machine the runner uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Literal, NamedTuple, cast

from transitions import EventData, Machine, MachineError

from dunflow.domain.policy import (
    ARRANGEMENT,
    BELOW_MINIMUM,
    CANCELLED,
    DISPUTED,
    ESCALATED,
    FINAL_STATES,
    HELD,
    NEW,
    PAID,
    PROMISED,
    Policy,
)
from dunflow.errors import DunflowError

# Events that pause dunning remember the dunning state to come back to (pay and settle too: a returned
# payment re-opens the case where it stood).
PAUSING = ("dispute", "promise", "hold", "arrange")


class CaseState:
    """The minimal model a machine steps: a state and the state to resume after a pause."""

    __slots__ = ("state", "resume_state")

    def __init__(self, state: str = NEW, resume_state: str | None = None) -> None:
        self.state = state
        self.resume_state = resume_state


def advance_event(step_id: str) -> str:
    return f"advance_{step_id}"


def _case(event: EventData) -> CaseState:
    """The model being stepped: always a CaseState here."""
    return cast(CaseState, event.model)


def _resumes_to(state: str) -> Callable[[EventData], bool]:
    def check(event: EventData) -> bool:
        return _case(event).resume_state == state

    check.__name__ = f"was_{state.replace('-', '_')}"
    return check


def _remember(event: EventData) -> None:
    """Keep the dunning state a pause interrupts (a pause of a pause keeps the first one)."""
    source = _case(event).state
    if source not in (DISPUTED, PROMISED, HELD, ARRANGEMENT):
        _case(event).resume_state = source


def _forget(event: EventData) -> None:
    _case(event).resume_state = None


class Refusal(NamedTuple):
    """The machine's answer when an event is not possible: the user error to raise."""

    message: str
    hint: str


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    policy: Policy
    version: int
    content_hash: str
    states: tuple[str, ...]
    transitions: tuple[dict[str, Any], ...]
    machine: Machine

    @property
    def dunning_states(self) -> tuple[str, ...]:
        return (NEW, *(s.id for s in self.policy.steps))

    def reached_index(self, state: str) -> int:
        """Index of the last step reached in this dunning state (-1 for new)."""
        return self._index[state]

    @cached_property
    def plans(self) -> dict[tuple[Any, ...], Any]:
        """Answers of the schedule's pure functions for this version, kept by the runner (`engine.advance`)."""
        return {}

    @cached_property
    def _index(self) -> dict[str, int]:
        return {NEW: -1, **{step.id: i for i, step in enumerate(self.policy.all_steps)}}

    def can(self, event: str, case: CaseState) -> bool:
        machine_event = self.machine.events.get(event)
        return machine_event is not None and case.state in machine_event.transitions

    def fire(self, event: str, case: CaseState) -> str:
        """Step `case` through `event`; raise a user error when the policy does not allow it.

        The machine decides; its answer for (event, state, resume state) is kept in `steps` and looked up
        from then on (what a transition does depends on nothing else: the conditions read the resume state,
        the callbacks set it from the state left)."""
        key = (event, case.state, case.resume_state)
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = self.machine_step(*key)
        if isinstance(step, Refusal):
            raise DunflowError(step.message, step.hint)
        case.state, case.resume_state = step
        return case.state

    @cached_property
    def steps(self) -> dict[tuple[str, str, str | None], tuple[str, str | None] | Refusal]:
        """(event, state, resume state) → (state, resume state) after it, or the error message: derived from
        the machine, one machine step per key on first use (`step_table` derives them all at once)."""
        return {}

    def machine_step(self, event: str, state: str, resume_state: str | None) -> tuple[str, str | None] | Refusal:
        """What the compiled machine does to a case in `state` (remembering `resume_state`) on `event`: the new
        (state, resume state), or the error message when the policy does not allow it."""
        case = CaseState(state, resume_state)
        try:
            moved = self.machine.events[event].trigger(case)
        except (MachineError, KeyError):
            return Refusal(f"'{event}' is not possible from state '{state}' "
                           f"(policy {self.policy.name} v{self.version})", _illegal_hint(state))
        if not moved:
            return Refusal(f"'{event}' did not apply in state '{state}'", "")
        return case.state, case.resume_state

    def step_table(self) -> dict[tuple[str, str, str | None], tuple[str, str | None] | Refusal]:
        """The whole lookup: every event of the machine from every state, with every resume state a case can
        carry (none, or a dunning state)."""
        resumes: list[str | None] = [None, *self.dunning_states]
        return {(event, state, resume): self.machine_step(event, state, resume)
                for event in self.machine.events for state in self.states for resume in resumes}


def _illegal_hint(state: str) -> str:
    if state in FINAL_STATES:
        return f"the invoice is {state}; dunning has ended for it"
    return "see `dunflow graph POLICY` for what can happen in each state"


def machine_spec(policy: Policy) -> tuple[list[str], list[dict[str, Any]]]:
    """States and transitions of a policy, as plain data."""
    steps = [s.id for s in policy.steps]
    dunning = [NEW, *steps]
    states = [*dunning, DISPUTED, PROMISED, HELD, ARRANGEMENT, PAID, CANCELLED, BELOW_MINIMUM, ESCALATED]
    open_states = [s for s in states if s not in FINAL_STATES]
    transitions: list[dict[str, Any]] = []
    for index, step in enumerate(policy.steps):  # a repeating step may also be entered again from itself
        reach = index + 2 if step.repeat else index + 1
        transitions.append(dict(trigger=advance_event(step.id), source=dunning[:reach], dest=step.id))
    if policy.escalation is not None:
        transitions.append(dict(trigger=advance_event(policy.escalation.id), source=steps[-1], dest=ESCALATED))
    transitions.append(dict(trigger="cancel", source=open_states, dest=CANCELLED))
    for trigger, dest in (("pay", PAID), ("settle", BELOW_MINIMUM)):
        transitions.append(dict(trigger=trigger, source=open_states, dest=dest, before=_remember))
    transitions += _pause_transitions(policy, dunning)
    transitions += _resume("reopen", [PAID, BELOW_MINIMUM], None, dunning)
    return states, transitions


def _pause_transitions(policy: Policy, dunning: list[str]) -> list[dict[str, Any]]:
    events = policy.events
    found: list[dict[str, Any]] = [
        dict(trigger="dispute", source=[*dunning, PROMISED, HELD], dest=DISPUTED, before=_remember),
        dict(trigger="promise", source=dunning, dest=PROMISED, before=_remember),
        dict(trigger="hold", source=[*dunning, PROMISED], dest=HELD, before=_remember),
        dict(trigger="arrange", source=[*dunning, PROMISED, HELD, DISPUTED], dest=ARRANGEMENT, before=_remember),
        dict(trigger="miss_installment", source=ARRANGEMENT, dest=ARRANGEMENT),
    ]
    found += _resume("resolve", DISPUTED, None, dunning)
    found += _resume("release", HELD, None, dunning)
    found += _resume("keep_promise", PROMISED, None, dunning)
    found += _resume("break_promise", PROMISED, events.promise.on_broken, dunning)
    found += _resume("default", ARRANGEMENT, events.arrangement.on_default, dunning)
    return found


def _resume(trigger: str, source: str | list[str], target: str | None, dunning: list[str]) -> list[dict[str, Any]]:
    """Back to the remembered dunning state, or on to the step the policy names.

    `reopen` (a returned payment) takes a paid case back to where the payment found it.
    """
    if target is not None:
        return [dict(trigger=trigger, source=source, dest=target, after=_forget)]
    return [dict(trigger=trigger, source=source, dest=state, conditions=[_resumes_to(state)], after=_forget)
            for state in dunning]


def compile_policy(policy: Policy, version: int = 0, content_hash: str = "") -> CompiledPolicy:
    states, transitions = machine_spec(policy)
    machine = Machine(model=None, states=states, transitions=transitions, initial=NEW, auto_transitions=False,
                      send_event=True, ignore_invalid_triggers=False)
    return CompiledPolicy(policy, version, content_hash, tuple(states), tuple(transitions), machine)


class _Drawing:
    """A throwaway model: diagrams need one to draw from."""


def draw(compiled: CompiledPolicy, fmt: str = "mermaid") -> str:
    """The compiled machine as Mermaid or Graphviz dot text (transitions' own diagram support)."""
    from transitions.extensions.diagrams import GraphMachine

    engine: Literal["mermaid", "graphviz"] = "mermaid" if fmt == "mermaid" else "graphviz"
    title = f"{compiled.policy.name} v{compiled.version}" if compiled.version else compiled.policy.name
    graph = GraphMachine(model=_Drawing(), states=list(compiled.states), transitions=list(compiled.transitions),
                         initial=NEW, auto_transitions=False, send_event=True, graph_engine=engine,
                         show_conditions=True, title=title)
    drawn = graph.get_graph()
    return str(drawn.draw(None)) if engine == "mermaid" else str(drawn.source)
