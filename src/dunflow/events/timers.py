"""The timers of the timed pauses (hold, promise, arrangement), built explicitly for the runner.

`pause_timers()` is called by `bootstrap`; nothing is registered on import, so an
entry point cannot forget a side-effect import and strand every paused case.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from dunflow.domain.policy import ARRANGEMENT, HELD, PROMISED
from dunflow.engine.advance import CaseFacts, Outcome, transition
from dunflow.engine.pauses import PauseTimer
from dunflow.events.arrangements import arrangement_facts, arrangement_timer
from dunflow.events.holds import active_holds
from dunflow.events.promises import promise_facts, promise_timer
from dunflow.policy.compile import CaseState, CompiledPolicy
from dunflow.store.uow import UnitOfWork


def hold_timer(compiled: CompiledPolicy, case: CaseState, outcome: Outcome, as_of: date, hold: Any) -> None:
    """The hold's date passed (or it was lifted): dunning resumes; else look again when it ends."""
    if hold is None:
        transition(compiled, case, outcome, "release", "hold ended: dunning resumes")
    else:
        outcome.next_action_at = hold.until


def _holds(uow: UnitOfWork, cases: list[CaseFacts], as_of: date) -> dict[int, Any]:
    holds = active_holds(uow, sorted({f.debtor_id for f in cases}), as_of)
    return {f.case_id: holds.get(f.debtor_id) for f in cases}


def _promises(uow: UnitOfWork, cases: list[CaseFacts], as_of: date) -> dict[int, Any]:
    promises = promise_facts(uow, [f.invoice_id for f in cases])
    return {f.case_id: promises.get(f.invoice_id) for f in cases}


def _arrangements(uow: UnitOfWork, cases: list[CaseFacts], as_of: date) -> dict[int, Any]:
    plans = arrangement_facts(uow, [f.invoice_id for f in cases])
    return {f.case_id: plans.get(f.invoice_id) for f in cases}


def pause_timers() -> dict[str, PauseTimer]:
    """State → how the runner loads and ends that pause."""
    return {HELD: PauseTimer(_holds, hold_timer), PROMISED: PauseTimer(_promises, promise_timer),
            ARRANGEMENT: PauseTimer(_arrangements, arrangement_timer)}
