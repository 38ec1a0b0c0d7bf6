"""Charges on the debt: booked when a step's notice is delivered, read back as one figure set everywhere.

`book_delivered` is called where the ladder learns a message went out (`receipts.record_delivery`). For each
invoice the message was about it books, exactly once (a unique source key per charge):
- the step's `fee:` once per invoice and step (a repeat of the step charges nothing more);
- `compensation` (the fixed 40 EUR, §288 Abs. 5 BGB / art. 6:96 lid 4 BW / Directive 2011/7/EU) once per
  invoice, from businesses only;
- `collection_costs` (the Dutch WIK scale) once per invoice, on the principal still unpaid, and for a consumer
  only once the term of a delivered Dutch 14-day letter has passed (`domain.law.notices.fourteen_day_term`
  with the policy's `delivery_days`).
A charge the law does not allow here (a consumer, no letter, the term still running, no rule for the currency)
is not booked: an audit entry `charge_skipped` says why. Interest is not booked here (see `domain.debt`).

`debts` gives, per invoice, the booked lines plus the interest accrued to a date; a day with no known rate
leaves the interest out and says why (`refusal`), so no run, notice or statement crashes on a missing rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from dunflow.domain.debt import (
    Accrual,
    Debt,
    Line,
    accrued_interest,
    charges_anything,
    interest_start,
    rounded,
)
from dunflow.domain.law import LawRefusal, MissingRate, collection_costs, compensation, fourteen_day_term
from dunflow.domain.law.notices import has_legal_effect
from dunflow.domain.money import Money
from dunflow.domain.notice import ChargeLine
from dunflow.domain.policy import CANCELLED, Policy, Step
from dunflow.store.uow import UnitOfWork


@dataclass(frozen=True)
class InvoiceDebt:
    """One invoice's debt as of a date: booked lines, plus accrued interest as a line without id."""

    invoice_id: int
    number: str
    case_id: int
    debt: Debt
    accrual: Accrual | None
    refusal: str = ""  # why interest could not be computed (a day without a known rate), else ""
    refusal_key: str = ""  # what the refusal's audit entry is kept once per (the day without a rate, or "law")
    facts: Any = field(default=None, repr=False, compare=False)  # the invoice's facts row, for that audit entry


def debts(uow: UnitOfWork, invoice_ids: Iterable[int], as_of: date, *, record: bool = False) -> dict[int, InvoiceDebt]:
    """The debts of these invoices as of `as_of`, read in three queries however many there are. `record`: write
    an audit entry for interest that could not be computed (a writing unit of work; see `note_refusals`)."""
    ids = list(invoice_ids)
    facts = uow.debts.facts(ids)
    lines = uow.debts.lines_of(ids)
    found: dict[int, InvoiceDebt] = {}
    for invoice_id, row in facts.items():
        booked = Debt(row.currency, row.amount, row.open_amount, tuple(
            Line(line.id, line.kind, line.step, line.amount, paid, line.booked_on, dict(line.basis or {}))
            for line, paid in lines.get(invoice_id, [])))
        charges = uow.versions.compiled(row.policy_version_id).policy.charges
        accrual, refusal, refusal_key = None, "", ""
        if row.state != CANCELLED:
            try:
                start = interest_start(charges, row.due_date, row.first_notice_on, row.debtor_type)
                accrual = accrued_interest(charges, booked, start, row.interest_to, as_of, row.debtor_type,
                                           uow.store.rates())
            except LawRefusal as refused:
                refusal = f"interest not charged: {refused.message}" + (f"; {refused.hint}" if refused.hint else "")
                refusal_key = refused.day.isoformat() if isinstance(refused, MissingRate) else "law"
        debt = booked if accrual is None or accrual.amount <= 0 else booked.with_line(
            Line(None, "interest", "", accrual.amount, accrual.amount * 0, as_of, accrual.basis))
        found[invoice_id] = InvoiceDebt(invoice_id, row.number, row.case_id, debt, accrual, refusal, refusal_key, row)
    if record:
        note_refusals(uow, found.values(), as_of)
    return found


def note_refusals(uow: UnitOfWork, items: Iterable[InvoiceDebt], as_of: date) -> None:
    """The audit entry `charge_skipped` for each debt whose interest could not be computed (once per reason), all
    in one statement."""
    uow.debts.record_skips([_skipped(uow, item.facts, "interest", "", as_of, item.refusal, item.refusal_key)
                            for item in items if item.refusal])


def book_interest(uow: UnitOfWork, invoice_id: int, on: date, why: str) -> InvoiceDebt | None:
    """Book the interest accrued up to `on` as a line (before a payment is allocated); the debt after it."""
    found = debts(uow, [invoice_id], on, record=True).get(invoice_id)
    if found is None or found.accrual is None:
        return found  # no interest here (none accrues, or no rate is known): nothing booked, nothing to read again
    _book_accrued(uow, found, on, why)
    return debts(uow, [invoice_id], on).get(invoice_id)


def book_interest_of(uow: UnitOfWork, invoice_ids: Iterable[int], on: date, why: str) -> None:
    """`book_interest` for many invoices at once (a run's hand-overs), their debts read in three queries."""
    for found in debts(uow, invoice_ids, on, record=True).values():
        _book_accrued(uow, found, on, why)


def _book_accrued(uow: UnitOfWork, found: InvoiceDebt, on: date, why: str) -> None:
    accrual = found.accrual
    if accrual is not None and accrual.amount > 0:
        _book(uow, found.facts, "interest", "", accrual.amount, found.debt.currency, on,
              {**accrual.basis, "booked_because": why},
              f"interest:{found.invoice_id}:{accrual.start.isoformat()}:{accrual.end.isoformat()}")
    if accrual is not None:
        uow.debts.set_interest_to(found.invoice_id, accrual.end)


def book_delivered(uow: UnitOfWork, moved: list[Any], on: date, facts: dict[int, Any] | None = None) -> None:
    """The notice that moved these cases (rows with `invoice_id`, `to_state`, `policy_version_id`) was delivered
    on `on`: note it, and book the step's charges. Collection costs of the invoices one notice was about are
    computed on their combined open principal (DOMAIN.md: several invoices of one debtor) and shared out.
    `facts`: the invoices' facts read ahead for a batch of deliveries (kept up to date here), else read here."""
    costs: dict[tuple[int, str], list[Any]] = {}
    for row in moved:
        policy = uow.versions.compiled(row.policy_version_id).policy
        if not charges_anything(policy):
            continue  # nothing to book, nothing to time: no query
        try:
            step = policy.step(row.to_state)
        except KeyError:
            continue
        eligible = book_step(uow, row.invoice_id, policy, step, on, facts)
        if eligible is not None:
            costs.setdefault((row.policy_version_id, step.id), []).append(eligible)
    for (version_id, step_id), invoices in costs.items():
        policy = uow.versions.compiled(version_id).policy
        _book_collection_costs(uow, invoices, policy, step_id, on)


def with_values(row: Any, values: dict[str, Any]) -> Any:
    """A row read earlier (a database row, or one made here) as it is after `values` were written to it."""
    fields = vars(row) if isinstance(row, SimpleNamespace) else row._asdict()
    return SimpleNamespace(**{**fields, **values})


def book_step(uow: UnitOfWork, invoice_id: int, policy: Policy, step: Step, on: date,
              known: dict[int, Any] | None = None) -> Any:
    """Book the step's fee and compensation for one invoice; the invoice's facts when collection costs may be
    booked on it (the caller books them over all the notice's invoices), else None. `known`: facts read ahead,
    updated with the timing row written here."""
    facts = known[invoice_id] if known is not None and invoice_id in known \
        else uow.debts.facts([invoice_id]).get(invoice_id)
    if facts is None:
        return None
    letter = step.legal == "fourteen_day_letter" and has_legal_effect(step.legal, facts.country)
    if not step.is_courtesy and on > facts.due_date:
        first_notice_on, letter_on = uow.debts.note_delivery(invoice_id, on, letter)
        if (first_notice_on, letter_on) != (facts.first_notice_on, facts.letter_on):  # as read again, unread
            facts = with_values(facts, {"first_notice_on": first_notice_on, "letter_on": letter_on})
            if known is not None:
                known[invoice_id] = facts
    if step.fee is not None:
        _book_fee(uow, facts, step, on)
    if "compensation" in step.charges:
        _book_compensation(uow, facts, policy, step, on)
    if "collection_costs" in step.charges and _may_charge_costs(uow, facts, policy, step, on):
        return facts
    return None


def _book_fee(uow: UnitOfWork, facts: Any, step: Step, on: date) -> None:
    assert step.fee is not None
    base = step.fee.base_amount(facts.currency, facts.amount)
    if base is None:
        _skip(uow, facts, "fee", step.id, on, f"fee not charged: the step sets no fee in {facts.currency}")
        return
    amount = rounded(base, facts.currency)
    how = (f"{step.fee.percent} % of the principal {facts.amount} {facts.currency}" if step.fee.percent is not None
           else f"fixed fee of step {step.id}")
    if amount > 0:
        _book(uow, facts, "fee", step.id, amount, facts.currency, on, {"explanation": how},
              f"fee:{facts.id}:{step.id}")


def _book_compensation(uow: UnitOfWork, facts: Any, policy: Policy, step: Step, on: date) -> None:
    law = policy.charges.compensation_law
    if law is None:
        _skip(uow, facts, "compensation", step.id, on, "compensation not charged: the policy names no "
              "`charges: compensation: {law: ...}`")
        return
    try:
        result = compensation(law, facts.currency, facts.debtor_type)
    except LawRefusal as refused:
        _skip(uow, facts, "compensation", step.id, on, f"compensation not charged: {refused.message}")
        return
    if result.amount <= 0:
        _skip(uow, facts, "compensation", step.id, on, f"compensation not charged: {result.reason}")
        return
    _book(uow, facts, "compensation", step.id, result.amount, facts.currency, on,
          {"law": law, "explanation": result.explanation}, f"compensation:{facts.id}")


def _may_charge_costs(uow: UnitOfWork, facts: Any, policy: Policy, step: Step, on: date) -> bool:
    charges = policy.charges
    why = "collection costs not charged: "
    if charges.collection_costs_law is None:
        _skip(uow, facts, "collection_costs", step.id, on, why + "the policy names no "
              "`charges: collection_costs: {law: ...}`")
        return False
    if facts.debtor_type == "consumer":
        if facts.letter_on is None:
            _skip(uow, facts, "collection_costs", step.id, on, why + "no Dutch 14-day letter (art. 6:96 lid 6 BW) "
                  "reached the debtor before")
            return False
        term = fourteen_day_term(facts.letter_on, charges.delivery_days)
        if on < term.costs_from:
            _skip(uow, facts, "collection_costs", step.id, on, why + f"the 14-day term of the letter of "
                  f"{facts.letter_on} runs to {term.last_day}; costs may be charged from {term.costs_from}")
            return False
    return bool(facts.open_amount > 0)


def _book_collection_costs(uow: UnitOfWork, invoices: list[Any], policy: Policy, step_id: str, on: date) -> None:
    """WIK costs on the combined open principal of `invoices` (same currency), shared out in proportion to each
    invoice's open principal (each share rounded; the rounding rest goes to the last invoice)."""
    by_currency: dict[str, list[Any]] = {}
    for facts in invoices:
        by_currency.setdefault(facts.currency, []).append(facts)
    charges = policy.charges
    law = charges.collection_costs_law or "NL"
    for currency, group in by_currency.items():
        combined = sum((f.open_amount for f in group), Decimal(0))
        try:
            result = collection_costs(combined, law, charges.collection_costs_vat)
        except LawRefusal as refused:
            for facts in group:
                _skip(uow, facts, "collection_costs", step_id, on, "collection costs not charged: " + refused.message)
            continue
        left = result.total
        for index, facts in enumerate(group):
            share = left if index == len(group) - 1 else rounded(result.total * facts.open_amount / combined,
                                                                  currency)
            left -= share
            _book(uow, facts, "collection_costs", step_id, share, currency, on,
                  {"law": law, "principal": str(facts.open_amount), "combined_principal": str(combined),
                   "invoices": [f.number for f in group], "costs": str(result.amount),
                   "vat": str(result.vat_amount), "total": str(result.total),
                   "explanation": result.explanation}, f"collection_costs:{facts.id}")


def charge_lines(items: Iterable[InvoiceDebt]) -> tuple[ChargeLine, ...]:
    """The open charges of these debts for a notice: booked lines, and interest accrued (by invoice number)."""
    lines: list[ChargeLine] = []
    for item in sorted(items, key=lambda d: d.number):
        cur = item.debt.currency
        lines += [ChargeLine(item.number, line.kind, line.step, Money(line.amount, cur), Money(line.open, cur),
                             accrued=line.line_id is None) for line in item.debt.lines if line.open > 0]
    return tuple(lines)


def _book(uow: UnitOfWork, facts: Any, kind: str, step: str, amount: Decimal, currency: str, on: date,
          basis: dict[str, Any], source_key: str) -> None:
    """Book a line on the invoice of `facts` once per `source_key`, and say so in the audit trail (`charge`)."""
    if uow.debts.book(facts.id, kind, step, amount, currency, on, basis, source_key, uow.clock.now()) is None:
        return
    how = str(basis.get("explanation", "")).splitlines()
    uow.debts.record_skip(dict(
        case_id=facts.case_id, kind="charge", step=step, channel="", at=on, recorded_at=uow.clock.now(),
        policy_version_id=facts.policy_version_id, from_state=facts.state, to_state=facts.state,
        rule=f"{kind.replace('_', ' ')} {amount} {currency} booked" + (f" ({how[0]})" if how else ""),
        status="done", actor="dunflow", message_key=None, idempotency_key=f"charge:{source_key}"[:200]))


def _skip(uow: UnitOfWork, facts: Any, kind: str, step: str, on: date, reason: str, key: str = "") -> None:
    uow.debts.record_skip(_skipped(uow, facts, kind, step, on, reason, key))


def _skipped(uow: UnitOfWork, facts: Any, kind: str, step: str, on: date, reason: str, key: str = "") -> dict[str, Any]:
    """The audit entry for a charge not booked, once per case, kind, step and `key` (default: the day)."""
    return dict(
        case_id=facts.case_id, kind="charge_skipped", step=step, channel="", at=on, recorded_at=uow.clock.now(),
        policy_version_id=facts.policy_version_id, from_state=facts.state, to_state=facts.state, rule=reason,
        status="skipped", actor="dunflow", message_key=None,
        idempotency_key=f"charge-skip:{facts.case_id}:{kind}:{step}:{key or on.isoformat()}"[:200])
