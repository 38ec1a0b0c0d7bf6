"""Read side: `status` (the portfolio at a glance) and `show` (one invoice's or debtor's timeline)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dunflow.domain.policy import FINAL_STATES, Policy, Step
from dunflow.domain.schedule import explain, explain_repeat, next_step, repeat_date
from dunflow.engine.charges import debts
from dunflow.engine.failures import failing_cases
from dunflow.errors import NotFound, unknown_invoice
from dunflow.ledger.debt import statement_json
from dunflow.policy.compile import CompiledPolicy
from dunflow.store.uow import UnitOfWork


def status(uow: UnitOfWork, as_of: date) -> dict[str, Any]:
    """Cases per policy and state, what falls due in the next 7 days, the outbox, and the cases whose notice
    failed (left behind by the runs until fixed)."""
    by_state = [{"policy": name, "state": state, "cases": count}
                for name, state, count in uow.reports.cases_per_policy_and_state()]
    upcoming = [{"date": str(on), "cases": count} for on, count in uow.reports.due_per_day(as_of + timedelta(days=7))]
    outbox = uow.outbox.count_by_status()
    return {"as_of": str(as_of), "cases": by_state, "due": upcoming, "outbox": outbox,
            "failing": failing_cases(uow)}


def show_invoice(uow: UnitOfWork, number: str, as_of: date | None = None) -> dict[str, Any]:
    """One invoice: its facts, its timeline, and its debt as of `as_of` (default today)."""
    row = uow.reports.invoice(number)
    if row is None:
        raise unknown_invoice(number)
    return {
        "number": row.number, "debtor": row.debtor_code, "debtor_name": row.debtor_name, "currency": row.currency,
        "amount": str(row.amount), "open_amount": str(row.open_amount), "issue_date": str(row.issue_date),
        "due_date": str(row.due_date), "email": row.email or "", "policy": row.policy,
        "policy_version": row.policy_version, "state": row.state, "next": _next(uow, row),
        "actions": _actions(uow, row.case_id),
        **_debt(uow, row, as_of or uow.clock.today()),
    }


def _debt(uow: UnitOfWork, row: Any, as_of: date) -> dict[str, Any]:
    """The debt sub-ledger as of today: principal, paid, open_principal, each charge, total_due (see ledger.debt);
    `open_amount` stays the open principal."""
    invoice_id = uow.debts.invoice_ids_of_cases([row.case_id])[row.case_id]
    found = debts(uow, [invoice_id], as_of)[invoice_id]
    data = statement_json(found, uow.debts.skips_of(row.case_id))
    data.pop("currency")
    return {**data, "as_of": as_of.isoformat()}


def _actions(uow: UnitOfWork, case_id: int) -> list[dict[str, Any]]:
    """The audit trail; a queued notice shows what became of its message (delivered when, or withdrawn why)."""
    rows = uow.reports.actions(case_id)
    return [{"step": r.step, "kind": r.kind, "channel": r.channel, "at": str(r.at), "policy_version": r.version,
             "rule": r.rule, **_fate(r), "from": r.from_state, "to": r.to_state, "actor": r.actor}
            for r in rows]


def _fate(row: Any) -> dict[str, str]:
    """`status` (queued, delivered, withdrawn, or the action's own) and `fate`, in words."""
    if row.message_status == "sent":
        on = row.delivered_on or (row.sent_at.date() if row.sent_at else row.at)
        return {"status": "delivered", "fate": f"delivered on {on}"}
    if row.message_status == "cancelled":
        return {"status": "withdrawn", "fate": row.last_error or "withdrawn before delivery"}
    if row.message_status == "dead":
        return {"status": "undeliverable", "fate": f"not delivered, no more attempts: {row.last_error}"}
    if row.message_status in ("pending", "claimed", "retry"):
        tried = f"; {row.attempts} failed attempt(s): {row.last_error}" if row.attempts else ""
        return {"status": "queued", "fate": f"queued, not delivered yet{tried}"}
    return {"status": row.status, "fate": row.status}


PAUSED_WHY = {
    "disputed": "paused until the dispute is resolved (`dunflow dispute resolve`)",
    "held": "debtor on hold until released (`dunflow release`)",
}


def _next(uow: UnitOfWork, row: Any) -> dict[str, Any] | None:
    if row.state in FINAL_STATES:
        return None
    compiled = uow.versions.compiled(row.policy_version_id)
    if not compiled.policy.dunned:
        return {"step": None, "at": None, "why": f"policy {compiled.policy.name} does not dun this segment "
                                                  "(dunning: off): the invoice is only tracked"}
    if row.next_action_at is None:
        return {"step": None, "at": None, "why": PAUSED_WHY[row.state]} if row.state in PAUSED_WHY else None
    if row.state not in compiled.dunning_states:
        return {"step": None, "at": str(row.next_action_at), "why": f"{row.state}: looked at again on this date"}
    policy, reached = compiled.policy, compiled.reached_index(row.state)
    waiting = _waiting_for_debtor_total(policy, row)
    if waiting:
        return {"step": None, "at": str(row.next_action_at), "why": waiting}
    bday = uow.versions.calendar(row.policy_version_id)
    again = repeat_date(policy, reached, row.due_date, row.last_step_on, row.repeats, bday, issue_date=row.issue_date)
    if again is not None and again == row.next_action_at:
        return {"step": row.state, "at": str(again),
                "why": explain_repeat(policy.steps[reached], row.last_step_on, again, row.repeats + 1)}
    index = next_step(policy, reached, row.due_date, row.next_action_at)
    if index is None:
        return None
    step = policy.all_steps[index]
    previous_on, previous, note = row.last_step_on, _received(compiled, row), ""
    queued_on = _queued_on(uow, row) if row.delivered_state != row.state and reached >= 0 else None
    if queued_on is not None:  # the notice of the step reached is not delivered yet: timed as if it went out today
        previous_on, previous = queued_on, policy.all_steps[reached]
        note = f" (counted from {queued_on}, the day {row.state} was queued, until it is delivered)"
    return {"step": step.id, "at": str(row.next_action_at),
            "why": explain(policy, step, row.due_date, previous_on, row.next_action_at, previous,
                           issue_date=row.issue_date, is_business_day=bday, repeats=row.repeats) + note}


def _queued_on(uow: UnitOfWork, row: Any) -> date | None:
    """The day the notice that moved the case to its current step was queued (None: no such notice)."""
    days = [a.at for a in uow.reports.actions(row.case_id) if a.status == "queued" and a.to_state == row.state]
    return days[-1] if days else None


def _received(compiled: CompiledPolicy, row: Any) -> Step | None:
    """The step whose notice the debtor last received (its pay-by date holds the next one back)."""
    index = compiled.reached_index(row.delivered_state) if row.delivered_state in compiled.dunning_states else -1
    return compiled.policy.all_steps[index] if index >= 0 else None


def _waiting_for_debtor_total(policy: Policy, row: Any) -> str:
    """Why a small invoice waits instead of being dunned (empty when it does not)."""
    minimum, threshold = policy.settings.minimum_for(row.currency), policy.settings.debtor_minimum_for(row.currency)
    if threshold is None or row.open_amount >= minimum:
        return ""
    return (f"below the minimum {minimum} {row.currency} on its own: dunned once the debtor's overdue invoices in "
            f"{row.currency} add up to {threshold} {row.currency}; looked at again on this date")


def show_debtor(uow: UnitOfWork, code: str) -> dict[str, Any]:
    debtor = uow.reports.debtor(code)
    if debtor is None:
        raise NotFound(f"unknown debtor '{code}'", "check the code or import the debtor first")
    numbers = uow.reports.invoice_numbers_of(debtor.id)
    data = {k: debtor._mapping[k] for k in ("code", "name", "type", "country", "language", "email", "phone")}
    data["tags"] = [t for t in debtor.tags.split(";") if t]
    data["invoices"] = [show_invoice(uow, number) for number in numbers]
    return data


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()


def outbox(uow: UnitOfWork, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Messages in the outbox, newest first: what was queued, sent, withdrawn, and why this channel."""
    return [{"id": r.id, "status": r.status, "created_on": str(r.created_on), "channel": r.channel,
             "recipient": r.recipient.splitlines()[0] if r.recipient else "", "step": r.step,
             "invoices": r.invoice_numbers, "subject": r.subject, "routing": r.routing, "note": r.last_error,
             "attempts": r.attempts, "last_error": r.last_error if r.status != "sent" else "",
             "next_attempt_at": _iso(r.next_attempt_at) if r.status in ("pending", "retry") else None,
             "claimed_by": r.claimed_by, "lease_until": _iso(r.lease_until), "dead_reason": r.dead_reason,
             "sent_at": _iso(r.sent_at)}
            for r in uow.outbox.newest(status, limit)]
