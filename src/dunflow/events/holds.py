"""Holds: pause every invoice of a debtor (special circumstances) until a date or until released."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from dunflow.domain.policy import HELD
from dunflow.errors import DunflowError
from dunflow.events.firing import (
    case_by_invoice_id,
    cases_of_debtor,
    current_actor,
    fire,
)
from dunflow.policy.compile import CaseState
from dunflow.policy.versions import CompiledVersions
from dunflow.store.orm import Hold, table_of

HOLDS = table_of(Hold)


def active_hold(connection: Connection, debtor_id: int, on: date) -> Any:
    """The debtor's hold in force on `on` (the latest-ending one), or None."""
    rows = connection.execute(select(HOLDS).where(
        HOLDS.c.debtor_id == debtor_id, HOLDS.c.released_on.is_(None),
        or_(HOLDS.c.until.is_(None), HOLDS.c.until > on)).order_by(HOLDS.c.id)).all()
    if not rows:
        return None
    open_ended = [r for r in rows if r.until is None]  # two of these must not be compared by their end
    return open_ended[0] if open_ended else max(rows, key=lambda r: r.until)


def debtors_on_hold(connection: Connection, debtor_ids: list[int], on: date) -> set[int]:
    """Which of these debtors have a hold in force on `on` (one query per 500 debtors)."""
    held: set[int] = set()
    for start in range(0, len(debtor_ids), 500):
        chunk = debtor_ids[start:start + 500]
        held.update(connection.execute(select(HOLDS.c.debtor_id).where(
            HOLDS.c.debtor_id.in_(chunk), HOLDS.c.released_on.is_(None),
            or_(HOLDS.c.until.is_(None), HOLDS.c.until > on))).scalars())
    return held


def place_hold(connection: Connection, code: str, until: date | None, reason: str, on: date,
               actor: str | None = None) -> int:
    """Hold the debtor; returns how many invoices were paused."""
    if not reason.strip():
        raise DunflowError("a hold needs a reason", 'say why, e.g. --reason "insolvency proceedings"')
    if until is not None and until <= on:
        raise DunflowError(f"--until {until} is not after {on}", "give a future date, or omit --until")
    debtor_id, cases = cases_of_debtor(connection, code)
    connection.execute(insert(HOLDS).values(debtor_id=debtor_id, until=until, reason=reason, placed_on=on,
                                            placed_by=actor or current_actor()))
    hold = active_hold(connection, debtor_id, on)
    paused = 0
    for case in cases:
        if CompiledVersions(connection).get(case.policy_version_id).can("hold", CaseState(case.state, case.resume_state)):
            hold_case(connection, case.invoice_id, hold, on, actor)
            paused += 1
    return paused


def hold_case(connection: Connection, invoice_id: int, hold: Any, on: date, actor: str | None) -> str:
    case = case_by_invoice_id(connection, invoice_id)
    until = f"until {hold.until}" if hold.until else "until released"
    return fire(connection, case, "hold", on=on, rule=f"debtor on hold {until}: {hold.reason}", actor=actor,
                next_action_at=hold.until, reschedule=False)


def release_debtor(connection: Connection, code: str, on: date, actor: str | None = None) -> int:
    debtor_id, cases = cases_of_debtor(connection, code)
    released = connection.execute(update(HOLDS).where(HOLDS.c.debtor_id == debtor_id, HOLDS.c.released_on.is_(None))
                                  .values(released_on=on)).rowcount
    if not released:
        raise DunflowError(f"debtor {code} is not on hold", "see `dunflow show debtor CODE`")
    count = 0
    for case in cases:
        if case.state == HELD:
            fire(connection, case, "release", on=on, rule="hold released", actor=actor)
            count += 1
    return count
