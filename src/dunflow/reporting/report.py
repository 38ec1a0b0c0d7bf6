"""Read side: `status` (the portfolio at a glance) and `show` (one invoice's or debtor's timeline)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from dunflow.domain.policy import FINAL_STATES, Step
from dunflow.domain.schedule import explain, next_step
from dunflow.errors import NotFound, unknown_invoice
from dunflow.policy.compile import CompiledPolicy
from dunflow.policy.versions import CompiledVersions
from dunflow.store.orm import (
    Action,
    Case,
    Debtor,
    Invoice,
    OutboxMessage,
    PolicyVersion,
    table_of,
)

CASES, INVOICES, DEBTORS = table_of(Case), table_of(Invoice), table_of(Debtor)
ACTIONS, VERSIONS, OUTBOX = table_of(Action), table_of(PolicyVersion), table_of(OutboxMessage)


def status(connection: Connection, as_of: date) -> dict[str, Any]:
    """Cases per policy and state, what falls due in the next 7 days, and the outbox."""
    rows = connection.execute(
        select(VERSIONS.c.name, CASES.c.state, func.count()).join(VERSIONS, VERSIONS.c.id == CASES.c.policy_version_id)
        .group_by(VERSIONS.c.name, CASES.c.state).order_by(VERSIONS.c.name, CASES.c.state))
    by_state = [{"policy": name, "state": state, "cases": count} for name, state, count in rows]
    due = connection.execute(
        select(CASES.c.next_action_at, func.count()).where(CASES.c.next_action_at <= as_of + timedelta(days=7))
        .group_by(CASES.c.next_action_at).order_by(CASES.c.next_action_at))
    upcoming = [{"date": str(on), "cases": count} for on, count in due]
    outbox: dict[str, int] = dict(connection.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)).all())
    return {"as_of": str(as_of), "cases": by_state, "due": upcoming, "outbox": outbox}


def show_invoice(connection: Connection, number: str) -> dict[str, Any]:
    row = connection.execute(
        select(INVOICES, DEBTORS.c.code.label("debtor_code"), DEBTORS.c.name.label("debtor_name"),
               CASES.c.id.label("case_id"), CASES.c.state, CASES.c.resume_state, CASES.c.next_action_at,
               CASES.c.last_step_on, CASES.c.delivered_state, CASES.c.policy_version_id, VERSIONS.c.name.label("policy"),
               VERSIONS.c.version.label("policy_version"))
        .join(DEBTORS, DEBTORS.c.id == INVOICES.c.debtor_id)
        .join(CASES, CASES.c.invoice_id == INVOICES.c.id)
        .join(VERSIONS, VERSIONS.c.id == CASES.c.policy_version_id)
        .where(INVOICES.c.number == number)).first()
    if row is None:
        raise unknown_invoice(number)
    return {
        "number": row.number, "debtor": row.debtor_code, "debtor_name": row.debtor_name, "currency": row.currency,
        "amount": str(row.amount), "open_amount": str(row.open_amount), "issue_date": str(row.issue_date),
        "due_date": str(row.due_date), "policy": row.policy, "policy_version": row.policy_version,
        "state": row.state, "next": _next(connection, row), "actions": _actions(connection, row.case_id),
    }


def _actions(connection: Connection, case_id: int) -> list[dict[str, Any]]:
    """The audit trail; a queued notice shows what became of its message (delivered when, or withdrawn why)."""
    rows = connection.execute(
        select(ACTIONS, VERSIONS.c.version, OUTBOX.c.status.label("message_status"), OUTBOX.c.delivered_on,
               OUTBOX.c.sent_at, OUTBOX.c.last_error, OUTBOX.c.attempts)
        .outerjoin(VERSIONS, VERSIONS.c.id == ACTIONS.c.policy_version_id)
        .outerjoin(OUTBOX, and_(OUTBOX.c.key == ACTIONS.c.message_key, ACTIONS.c.status == "queued"))
        .where(ACTIONS.c.case_id == case_id).order_by(ACTIONS.c.id))
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
    if row.message_status == "pending":
        tried = f"; {row.attempts} failed attempt(s): {row.last_error}" if row.attempts else ""
        return {"status": "queued", "fate": f"queued, not delivered yet{tried}"}
    return {"status": row.status, "fate": row.status}


PAUSED_WHY = {
    "disputed": "paused until the dispute is resolved (`dunflow dispute resolve`)",
    "held": "debtor on hold until released (`dunflow release`)",
}


def _next(connection: Connection, row: Any) -> dict[str, Any] | None:
    if row.state in FINAL_STATES:
        return None
    if row.next_action_at is None:
        return {"step": None, "at": None, "why": PAUSED_WHY[row.state]} if row.state in PAUSED_WHY else None
    compiled = CompiledVersions(connection).get(row.policy_version_id)
    if row.state not in compiled.dunning_states:
        return {"step": None, "at": str(row.next_action_at), "why": f"{row.state}: looked at again on this date"}
    policy = compiled.policy
    index = next_step(policy, compiled.reached_index(row.state), row.due_date, row.next_action_at)
    if index is None:
        return None
    step = policy.all_steps[index]
    return {"step": step.id, "at": str(row.next_action_at),
            "why": explain(policy, step, row.due_date, row.last_step_on, row.next_action_at, _received(compiled, row))}


def _received(compiled: CompiledPolicy, row: Any) -> Step | None:
    """The step whose notice the debtor last received (its pay-by date holds the next one back)."""
    index = compiled.reached_index(row.delivered_state) if row.delivered_state in compiled.dunning_states else -1
    return compiled.policy.all_steps[index] if index >= 0 else None


def show_debtor(connection: Connection, code: str) -> dict[str, Any]:
    debtor = connection.execute(select(DEBTORS).where(DEBTORS.c.code == code)).first()
    if debtor is None:
        raise NotFound(f"unknown debtor '{code}'", "check the code or import the debtor first")
    numbers = connection.execute(select(INVOICES.c.number).where(INVOICES.c.debtor_id == debtor.id)
                                 .order_by(INVOICES.c.due_date, INVOICES.c.number)).scalars().all()
    data = {k: debtor._mapping[k] for k in ("code", "name", "type", "country", "language", "email", "phone")}
    data["tags"] = [t for t in debtor.tags.split(";") if t]
    data["invoices"] = [show_invoice(connection, number) for number in numbers]
    return data


def outbox(connection: Connection, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Messages in the outbox, newest first: what was queued, sent, withdrawn, and why this channel."""
    query = select(OUTBOX).order_by(OUTBOX.c.id.desc()).limit(limit)
    if status:
        query = query.where(OUTBOX.c.status == status)
    return [{"id": r.id, "status": r.status, "created_on": str(r.created_on), "channel": r.channel,
             "recipient": r.recipient.splitlines()[0] if r.recipient else "", "step": r.step,
             "invoices": r.invoice_numbers, "subject": r.subject, "routing": r.routing, "note": r.last_error}
            for r in connection.execute(query)]
