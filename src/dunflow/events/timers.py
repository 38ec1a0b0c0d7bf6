"""The runner's side of pauses: what it must know about a paused case, the timers, and their side effects.

A held, promised or arranged case is due on the day its pause must be looked at
(the hold ends, the promise is checked, an installment is checked). The runner
loads the pause's facts for those cases only, the timers decide (pure), and the
effects (a promise marked broken, an installment missed) are written in the
same batch transaction.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, update

from dunflow.domain.policy import ARRANGEMENT, HELD, PROMISED
from dunflow.engine.advance import TIMERS, CaseFacts, Outcome, transition
from dunflow.events.arrangements import arrangement_facts, arrangement_timer
from dunflow.events.holds import active_hold
from dunflow.events.promises import promise_facts, promise_timer
from dunflow.policy.compile import CaseState, CompiledPolicy
from dunflow.store.orm import Arrangement, Installment, Promise, table_of

_TABLES = {"promises": table_of(Promise), "installments": table_of(Installment),
           "arrangements": table_of(Arrangement)}


def hold_timer(compiled: CompiledPolicy, case: CaseState, outcome: Outcome, as_of: date, hold: Any) -> None:
    """The hold's date passed (or it was lifted): dunning resumes; else look again when it ends."""
    if hold is None:
        transition(compiled, case, outcome, "release", "hold ended: dunning resumes")
    else:
        outcome.next_action_at = hold.until


TIMERS.update({HELD: hold_timer, PROMISED: promise_timer, ARRANGEMENT: arrangement_timer})


def load_pause_facts(connection: Connection, claimed: list[CaseFacts], as_of: date) -> dict[int, Any]:
    """Case id → what its pause timer needs, for the paused cases of a batch."""
    by_state: dict[str, list[CaseFacts]] = {}
    for facts in claimed:
        by_state.setdefault(facts.state, []).append(facts)
    found: dict[int, Any] = {}
    if PROMISED in by_state:
        promises = promise_facts(connection, [f.invoice_id for f in by_state[PROMISED]])
        found.update({f.case_id: promises.get(f.invoice_id) for f in by_state[PROMISED]})
    if ARRANGEMENT in by_state:
        plans = arrangement_facts(connection, [f.invoice_id for f in by_state[ARRANGEMENT]])
        found.update({f.case_id: plans.get(f.invoice_id) for f in by_state[ARRANGEMENT]})
    for facts in by_state.get(HELD, []):
        found[facts.case_id] = active_hold(connection, facts.debtor_id, as_of)
    return found


def write_effects(connection: Connection, outcomes: list[Outcome]) -> None:
    """Apply each distinct side effect once (several cases of one arrangement report the same one)."""
    seen: set[tuple[str, int]] = set()
    for outcome in outcomes:
        for table, row_id, values in outcome.effects:
            if (table, row_id) in seen:
                continue
            seen.add((table, row_id))
            target = _TABLES[table]
            connection.execute(update(target).where(target.c.id == row_id).values(**values))
