"""Before a message goes out: is what it says still true?

A notice is rendered when the run decides on it and delivered later. If a
partial payment or credit note arrived in between, the notice is rendered again
with today's open amounts (invoices no longer dunned drop out of a grouped
notice); if none of its invoices is still dunned, it is withdrawn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dunflow.domain.money import Money
from dunflow.domain.notice import Creditor, NoticeFacts, invoice_line
from dunflow.domain.policy import NOT_DUNNED
from dunflow.engine.notices import debtor_from_row
from dunflow.rendering.templates import TemplateStore
from dunflow.store.uow import UnitOfWork


@dataclass(frozen=True)
class Refreshed:
    subject: str
    body: str
    invoice_numbers: list[str]
    open_amounts: dict[str, str]
    note: str


def refresh(uow: UnitOfWork, templates: TemplateStore, creditor: Creditor,
            message: dict[str, Any]) -> Refreshed | None | bool:
    """True: send as rendered. None: withdraw. Refreshed: send this text instead."""
    rendered_with = message.get("open_amounts")
    if not rendered_with or message["step"] == "installment":
        return True
    rows = uow.invoices.with_cases(list(rendered_with))
    current = {r.number: str(r.open_amount) for r in rows if _still_dunned(r)}
    if current == rendered_with:
        return True
    if not current:
        return None
    return _render_again(uow, templates, creditor, message, [r for r in rows if r.number in current])


def _still_dunned(row: Any) -> bool:
    return row.state not in NOT_DUNNED and row.open_amount > 0


def _render_again(uow: UnitOfWork, templates: TemplateStore, creditor: Creditor, message: dict[str, Any],
                  rows: list[Any]) -> Refreshed:
    compiled = uow.versions.compiled(rows[0].policy_version_id)
    debtor = debtor_from_row(uow.invoices.debtor(message["debtor_id"]))
    as_of = message["created_on"]
    lines = tuple(invoice_line(r.number, r.issue_date, r.due_date, Money(r.amount, r.currency),
                               Money(r.open_amount, r.currency), as_of) for r in rows)
    facts = NoticeFacts(debtor, creditor, lines, compiled.policy.step(message["step"]), compiled.policy,
                        compiled.version, as_of, message["language"])
    rendered = templates.render(message["template"], message["language"], facts.context())
    amounts = {line.number: str(line.open_amount.amount) for line in lines}
    return Refreshed(rendered.subject, rendered.body, [line.number for line in lines], amounts,
                     f"re-rendered before delivery: open amounts changed since {as_of}")
