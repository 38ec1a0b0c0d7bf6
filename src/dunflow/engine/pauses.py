"""The runner's port for timed pauses: what it loads about a paused case, and the timer that decides.

A held, promised or arranged case is due on the day its pause must be looked at
(the hold ends, the promise is checked, an installment is checked). For each such
state the runner is handed a `PauseTimer` (built by `bootstrap` from `events.timers`):
`load` reads the pause's facts for the batch's cases in that state, `fire` decides
(pure). The effects timers report (a promise marked broken, an installment missed)
are written in the same batch's unit of work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping

from dunflow.domain.policy import TIMED_PAUSES
from dunflow.engine.advance import CaseFacts, Timer, UnwiredTimer
from dunflow.store.uow import UnitOfWork

# The paused cases of one state in a batch → case id → what the timer needs to know about the pause.
PauseLoader = Callable[[UnitOfWork, list[CaseFacts], date], dict[int, Any]]


@dataclass(frozen=True)
class PauseTimer:
    load: PauseLoader
    fire: Timer


Timers = Mapping[str, PauseTimer]


def require_timers(timers: Timers) -> None:
    """Refuse to run without a timer for every timed pause: such cases would stay paused forever."""
    missing = sorted(TIMED_PAUSES - set(timers))
    if missing:
        raise UnwiredTimer(f"the runner has no timer for {', '.join(missing)} "
                           "(build its timers with dunflow.bootstrap)")


def fires(timers: Timers) -> dict[str, Timer]:
    return {state: timer.fire for state, timer in timers.items()}


def load_pause_facts(uow: UnitOfWork, timers: Timers, claimed: list[CaseFacts], as_of: date) -> dict[int, Any]:
    """Case id → what its pause timer needs, for the paused cases of a batch."""
    by_state: dict[str, list[CaseFacts]] = {}
    for facts in claimed:
        if facts.state in timers:
            by_state.setdefault(facts.state, []).append(facts)
    found: dict[int, Any] = {}
    for state, cases in by_state.items():
        found.update(timers[state].load(uow, cases, as_of))
    return found
