"""Payment arrangements (installment plans): the invoices leave the normal steps; installments are watched.

A missed installment (still unpaid `reminder.after_days` after its due date) gets
its own reminder; after `max_missed` missed installments the arrangement
defaults and dunning resumes at the step the policy names. Payments on the
invoices pay the installments oldest first, and complete the arrangement once
every invoice is paid (`ledger.allocation`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from dunflow.domain.calendar import add_months
from dunflow.domain.money import Money, minor_unit
from dunflow.domain.policy import ARRANGEMENT, Delay, Step
from dunflow.engine.advance import Outcome, transition
from dunflow.errors import DunflowError, NotFound
from dunflow.events.firing import CaseFacts, case_for_invoice, current_actor, fire
from dunflow.policy.compile import CaseState, CompiledPolicy
from dunflow.store.uow import UnitOfWork


@dataclass(frozen=True)
class InstallmentFacts:
    id: int
    number: int
    due_date: date
    amount: Decimal
    paid: Decimal
    status: str


@dataclass(frozen=True)
class ArrangementFacts:
    id: int
    currency: str
    missed: int
    installments: tuple[InstallmentFacts, ...]
    primary: bool  # the arrangement's first case sends its reminders, once for all its invoices


def parse_every(text: str) -> tuple[int, str]:
    """'1m', '2w', '14d' → (count, unit)."""
    unit = text[-1:].lower()
    if unit not in ("m", "w", "d") or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise DunflowError(f"--every '{text}' is not a period", "write e.g. 1m (monthly), 2w or 14d")
    return int(text[:-1]), unit


def schedule(total: Decimal, currency: str, count: int, first_due: date, every: str) -> list[tuple[date, Decimal]]:
    """Equal installments rounded down to the currency's minor unit (1000 JPY in 3: 333, 333, 334); the last one
    carries the remainder."""
    step, unit = parse_every(every)
    quantum = minor_unit(currency)
    part = (total / count).quantize(quantum, rounding="ROUND_DOWN")
    dates = [first_due]
    for n in range(1, count):
        previous = dates[-1]
        dates.append(add_months(first_due, step * n) if unit == "m"
                     else previous + timedelta(days=step * (7 if unit == "w" else 1)))
    amounts = [part] * (count - 1) + [total - part * (count - 1)]
    return list(zip(dates, amounts))


def create_arrangement(uow: UnitOfWork, numbers: list[str], installments: int, first_due: date, every: str,
                       on: date, actor: str | None = None) -> int:
    cases = [case_for_invoice(uow, n) for n in numbers]
    _check_arrangeable(uow, cases, installments, first_due, on)
    total = sum((c.open_amount for c in cases), Decimal("0"))
    plan = schedule(total, cases[0].currency, installments, first_due, every)
    arrangement_id = uow.pauses.add_arrangement(
        dict(debtor_id=cases[0].debtor_id, currency=cases[0].currency, total=total, every=every, status="active",
             missed=0, created_on=on, created_by=actor or current_actor()),
        [dict(number=n, due_date=due, amount=amount, paid=Decimal("0"), status="open")
         for n, (due, amount) in enumerate(plan, start=1)],
        [c.invoice_id for c in cases])
    for case in cases:
        rules = uow.versions.compiled(case.policy_version_id).policy.events.arrangement
        fire(uow, case, "arrange", on=on, actor=actor, reschedule=False,
             next_action_at=first_due + timedelta(days=rules.reminder_after_days),
             rule=f"payment arrangement {arrangement_id}: {installments} installments of about {plan[0][1]} "
                  f"{case.currency} every {every} from {first_due}")
    return int(arrangement_id)


def rejoin_arrangement(uow: UnitOfWork, case: CaseFacts, arrangement_id: int, on: date, why: str,
                       actor: str | None = None) -> None:
    """Put a re-opened case back under its (re-activated) arrangement: a returned payment had paid into the
    plan, so the plan, not the dunning ladder, is what the debtor is held to; the runner next looks at the
    earliest installment still open (plus the reminder delay)."""
    open_ones = [i for i in uow.pauses.installments(arrangement_id) if i.paid < i.amount]
    if not open_ones or not uow.versions.compiled(case.policy_version_id).can(
            "arrange", CaseState(case.state, case.resume_state)):
        return
    rules = uow.versions.compiled(case.policy_version_id).policy.events.arrangement
    fire(uow, case, "arrange", on=on, actor=actor, reschedule=False,
         next_action_at=max(on, open_ones[0].due_date + timedelta(days=rules.reminder_after_days)),
         rule=f"{why}: back under payment arrangement {arrangement_id}")


def _check_arrangeable(uow: UnitOfWork, cases: list[CaseFacts], installments: int, first_due: date,
                       on: date) -> None:
    if len({(c.debtor_id, c.currency) for c in cases}) != 1:
        raise DunflowError("an arrangement covers invoices of one debtor in one currency",
                           "make one arrangement per debtor and currency")
    if installments < 1 or installments > 120:
        raise DunflowError(f"--installments {installments} is out of range", "use 1 to 120")
    if first_due < on:
        raise DunflowError(f"--first-due {first_due} is in the past", "the first installment falls due later")
    for case in cases:
        compiled = uow.versions.compiled(case.policy_version_id)
        if not compiled.can("arrange", CaseState(case.state, case.resume_state)):
            raise DunflowError(f"invoice {case.number} is {case.state}; it cannot join an arrangement",
                               "only open invoices that are being dunned or paused can")


def arrangement_facts(uow: UnitOfWork, invoice_ids: list[int]) -> dict[int, ArrangementFacts]:
    """Active arrangements of these invoices (invoice id → facts)."""
    found: dict[int, ArrangementFacts] = {}
    for invoice_id, arrangement_id in uow.pauses.active_arrangements(invoice_ids):
        head = uow.pauses.arrangement(arrangement_id)
        first_invoice = uow.pauses.first_invoice_in(arrangement_id, ARRANGEMENT)  # it sends the reminders
        rows = uow.pauses.installments(arrangement_id)
        found[invoice_id] = ArrangementFacts(
            arrangement_id, head.currency, head.missed,
            tuple(InstallmentFacts(r.id, r.number, r.due_date, r.amount, r.paid, r.status) for r in rows),
            first_invoice == invoice_id)
    return found


def installment_step(compiled: CompiledPolicy) -> Step:
    rules = compiled.policy.events.arrangement
    return Step("installment", Delay(rules.reminder_after_days), rules.reminder_channels, rules.reminder_template,
                kind="installment", fallback=rules.reminder_fallback, pay_within_days=7,
                title="Missed installment")


def arrangement_timer(compiled: CompiledPolicy, case: CaseState, outcome: Outcome, as_of: date,
                      facts: ArrangementFacts | None) -> None:
    """Installments unpaid `after_days` past due are missed: remind, or default after `max_missed`."""
    if facts is None:
        return
    rules = compiled.policy.events.arrangement
    grace = timedelta(days=rules.reminder_after_days)
    open_ones = [i for i in facts.installments if i.status == "open"]
    missed = [i for i in open_ones if i.due_date + grace <= as_of and i.paid < i.amount]
    upcoming = [i for i in open_ones if i not in missed]
    if missed:
        total_missed = facts.missed + len(missed)
        for installment in missed:
            outcome.effects.append(("installments", installment.id, {"status": "missed"}))
        if total_missed >= rules.max_missed:
            outcome.effects.append(("arrangements", facts.id, {"status": "defaulted", "missed": total_missed}))
            transition(compiled, case, outcome, "default",
                       f"arrangement {facts.id} defaulted: {total_missed} installments missed (max {rules.max_missed})")
            return
        outcome.effects.append(("arrangements", facts.id, {"missed": total_missed}))
        _remind(compiled, case, outcome, facts, missed[-1], as_of)
    if upcoming:
        outcome.next_action_at = upcoming[0].due_date + grace
    else:
        outcome.next_action_at = as_of + grace  # nothing left to fall due: check again, then default


def _remind(compiled: CompiledPolicy, case: CaseState, outcome: Outcome, facts: ArrangementFacts,
            installment: InstallmentFacts, as_of: date) -> None:
    rule = (f"installment {installment.number} of arrangement {facts.id} ({installment.amount} {facts.currency}, "
            f"due {installment.due_date}) missed")
    if not facts.primary:
        transition(compiled, case, outcome, "miss_installment", rule + "; the reminder goes with the first invoice")
        return
    transition(compiled, case, outcome, "miss_installment", rule, kind="installment", step="installment",
               status="queued")
    outcome.notice = installment_step(compiled)
    outcome.extra = {
        "installment": {"number": installment.number, "due_date": installment.due_date,
                        "amount": Money(installment.amount, facts.currency),
                        "open_amount": Money(installment.amount - installment.paid, facts.currency)},
        "arrangement": {"id": facts.id, "installments": len(facts.installments)},
    }


def show_arrangement(uow: UnitOfWork, arrangement_id: int) -> dict[str, Any]:
    head = uow.pauses.arrangement(arrangement_id)
    if head is None:
        raise NotFound(f"unknown arrangement {arrangement_id}", "arrangement ids are printed by `arrangement create`")
    numbers = [row.number for row in uow.pauses.invoices_of(arrangement_id)]
    rows = uow.pauses.installments(arrangement_id)
    return {"id": head.id, "status": head.status, "currency": head.currency, "total": str(head.total),
            "every": head.every, "missed": head.missed, "invoices": numbers,
            "installments": [{"number": r.number, "due_date": str(r.due_date), "amount": str(r.amount),
                              "paid": str(r.paid), "status": r.status} for r in rows]}

