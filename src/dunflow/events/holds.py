"""Holds: pause every invoice of a debtor (special circumstances) until a date or until released."""
from __future__ import annotations

from datetime import date
from typing import Any

from dunflow.domain.policy import HELD
from dunflow.errors import DunflowError
from dunflow.events.firing import (
    case_by_invoice_id,
    cases_of_debtor,
    current_actor,
    fire,
)
from dunflow.policy.compile import CaseState
from dunflow.store.uow import UnitOfWork


def active_hold(uow: UnitOfWork, debtor_id: int, on: date) -> Any:
    """The debtor's hold in force on `on` (the latest-ending one), or None."""
    return active_holds(uow, [debtor_id], on).get(debtor_id)


def active_holds(uow: UnitOfWork, debtor_ids: list[int], on: date) -> dict[int, Any]:
    """Debtor id → its hold in force on `on`, for those that have one (one query for all of them)."""
    return {debtor_id: _latest_ending(rows) for debtor_id, rows in uow.pauses.holds_in_force(debtor_ids, on).items()}


def _latest_ending(rows: list[Any]) -> Any:
    """An open-ended hold outlasts any dated one; among dated holds, the one that ends last."""
    open_ended = [r for r in rows if r.until is None]  # two of these must not be compared by their end
    return open_ended[0] if open_ended else max(rows, key=lambda r: r.until)


def debtors_on_hold(uow: UnitOfWork, debtor_ids: list[int], on: date) -> set[int]:
    """Which of these debtors have a hold in force on `on` (one query per 500 debtors)."""
    return uow.pauses.debtors_on_hold(debtor_ids, on)


def place_hold(uow: UnitOfWork, code: str, until: date | None, reason: str, on: date,
               actor: str | None = None) -> int:
    """Hold the debtor; returns how many invoices were paused."""
    if not reason.strip():
        raise DunflowError("a hold needs a reason", 'say why, e.g. --reason "insolvency proceedings"')
    if until is not None and until <= on:
        raise DunflowError(f"--until {until} is not after {on}", "give a future date, or omit --until")
    debtor_id, cases = cases_of_debtor(uow, code)
    uow.pauses.add_hold(debtor_id, until, reason, on, actor or current_actor())
    hold = active_hold(uow, debtor_id, on)
    paused = 0
    for case in cases:
        if uow.versions.compiled(case.policy_version_id).can("hold", CaseState(case.state, case.resume_state)):
            hold_case(uow, case.invoice_id, hold, on, actor)
            paused += 1
    return paused


def hold_case(uow: UnitOfWork, invoice_id: int, hold: Any, on: date, actor: str | None) -> str:
    case = case_by_invoice_id(uow, invoice_id)
    until = f"until {hold.until}" if hold.until else "until released"
    return fire(uow, case, "hold", on=on, rule=f"debtor on hold {until}: {hold.reason}", actor=actor,
                next_action_at=hold.until, reschedule=False)


def release_debtor(uow: UnitOfWork, code: str, on: date, actor: str | None = None) -> int:
    debtor_id, cases = cases_of_debtor(uow, code)
    released = uow.pauses.release_holds(debtor_id, on)
    if not released:
        raise DunflowError(f"debtor {code} is not on hold", "see `dunflow show debtor CODE`")
    count = 0
    for case in cases:
        if case.state == HELD:
            fire(uow, case, "release", on=on, rule="hold released", actor=actor)
            count += 1
    return count
