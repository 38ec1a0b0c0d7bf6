"""Payments: record what arrived, match it to invoices, apply it, and keep what is left as a credit.

Why it works this way:
- The bank's entry id (`external_id`) is the idempotency key: importing a statement twice, or a file
  that overlaps the last one, records nothing twice.
- Matching is conservative, because a wrong match stops dunning the wrong debtor. A payment is applied
  only on strong evidence: an invoice named in the file's `invoice` column, an invoice number (or an
  ISO 11649 `RF` reference) in the remittance text, or else exactly one open invoice of exactly that
  amount. Anything else stays unmatched for a person (`payments unmatched`, `payments assign`).
- Money is never lost: what a payment does not need for its invoice(s) goes to the same debtor's other
  open invoices in that currency, oldest due date first; the rest stays on the payment as a credit.
- Every change to an invoice goes through `ledger.allocation.apply_amount`, so the case is paid or settled and its
  pending notices are withdrawn exactly as for any other debtor event.
Everything runs in the caller's unit of work: an import succeeds entirely or changes nothing.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from dunflow.domain.policy import CANCELLED, DISPUTED
from dunflow.errors import (
    DunflowError,
    InputProblems,
    NotFound,
    Problem,
    unknown_invoice,
)
from dunflow.formats import tables as t
from dunflow.formats.bankfiles import (
    PaymentRecord,
    read_payments,
    sniff_payments_format,
)
from dunflow.ledger.allocation import apply_amount
from dunflow.store.uow import UnitOfWork

OPEN_STATUSES = ("unmatched", "credit")
NO_SPILL_STATES = (DISPUTED, CANCELLED)  # a contested or cancelled invoice never absorbs surplus money
RF_REFERENCE = re.compile(r"RF[0-9]{2}([A-Z0-9]{1,21})")
TOKEN_SPLIT = re.compile(r"[\s,;:]+")
TOKEN_EDGES = ".()[]{}<>\"'!?#*"
MATCHED_BY_LENGTH = 100


@dataclass(frozen=True)
class InvoiceRef:
    """What matching needs of an invoice; the open amount is always read fresh, under the case lock."""

    id: int
    number: str
    debtor_id: int
    currency: str
    due_date: date


@dataclass(frozen=True)
class Match:
    """Where a payment goes: `invoices` in allocation order, the debtor it belongs to, and why."""

    invoices: tuple[InvoiceRef, ...]
    debtor_id: int | None
    how: str


@dataclass(frozen=True)
class Applied:
    """One allocation, with the invoice's open amount and case state right after it."""

    invoice: str
    amount: Decimal
    open_amount: Decimal
    state: str


@dataclass(frozen=True)
class PaymentOutcome:
    payment_id: int
    external_id: str
    kind: str
    amount: Decimal
    currency: str
    status: str  # matched | credit | unmatched
    matched_by: str
    unallocated: Decimal
    applied: tuple[Applied, ...]


@dataclass
class PaymentReport:
    """What an import did; `changed` lists ids seen before with other values (kept as first recorded)."""

    already_imported: int = 0
    changed: list[str] = field(default_factory=list)
    outcomes: list[PaymentOutcome] = field(default_factory=list)

    @property
    def recorded(self) -> int:
        return len(self.outcomes)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)


@dataclass(frozen=True)
class _PaymentRow:
    id: int
    external_id: str
    kind: str
    booked_on: date
    amount: Decimal
    currency: str
    debtor_id: int | None
    unallocated: Decimal


def money_text(amount: Decimal, currency: str) -> str:
    """An amount with its currency's minor unit (PostgreSQL returns NUMERIC(18,4) as '100.0000')."""
    return str(amount.quantize(Decimal(1).scaleb(-t.currency_digits(currency))))


# --- recording --------------------------------------------------------------------------------


def record_payments(uow: UnitOfWork, records: list[PaymentRecord], *, actor: str,
                    named: Mapping[str, str] | None = None) -> PaymentReport:
    """Insert and apply each new record; ids already recorded are skipped (a re-import changes nothing).

    `named` maps an external id to the invoice number a file names for it explicitly.
    """
    report = PaymentReport()
    fresh = _new_records(uow, records, report)
    finder = InvoiceFinder(uow, fresh, (named or {}).values())
    for record in fresh:
        match = finder.match(record, (named or {}).get(record.external_id))
        report.outcomes.append(_record(uow, record, "payment", match, actor))
    return report


def _new_records(uow: UnitOfWork, records: list[PaymentRecord], report: PaymentReport) -> list[PaymentRecord]:
    known: dict[str, Any] = uow.payments.by_external_id([record.external_id for record in records])
    fresh: list[PaymentRecord] = []
    for record in records:
        old = known.get(record.external_id)
        if old is None:
            fresh.append(record)
            known[record.external_id] = record
            continue
        report.already_imported += 1
        if (old.amount, old.currency, old.booked_on) != (record.amount, record.currency, record.booked_on):
            report.changed.append(record.external_id)
    return fresh


def _record(uow: UnitOfWork, record: PaymentRecord, kind: str, match: Match, actor: str) -> PaymentOutcome:
    payment_id = uow.payments.add(dict(
        external_id=record.external_id, kind=kind, booked_on=record.booked_on, amount=record.amount,
        currency=record.currency, reference=record.reference, payer_name=record.payer_name,
        payer_iban=record.payer_iban, source=record.source, debtor_id=None, status="unmatched",
        matched_by="", unallocated=record.amount), recorded_at=uow.clock.now())
    payment = _PaymentRow(payment_id, record.external_id, kind, record.booked_on, record.amount, record.currency,
                          None, record.amount)
    return _allocate(uow, payment, match, actor)


# --- allocating -------------------------------------------------------------------------------


def _allocate(uow: UnitOfWork, payment: _PaymentRow, match: Match, actor: str) -> PaymentOutcome:
    """Apply what is left of `payment` to the matched invoices, then to the debtor's other open ones."""
    applied: list[Applied] = []
    left = payment.unallocated
    for invoice in match.invoices:
        left -= _apply(uow, payment, invoice, left, actor, applied)
    debtor_id = payment.debtor_id if payment.debtor_id is not None else match.debtor_id
    if debtor_id is not None and left > 0:
        skip = {invoice.id for invoice in match.invoices}
        for invoice in _other_open_invoices(uow, debtor_id, payment.currency, skip):
            left -= _apply(uow, payment, invoice, left, actor, applied)
            if left <= 0:
                break
    status = "matched" if left <= 0 else ("credit" if debtor_id is not None else "unmatched")
    uow.payments.settle(payment.id, left, status, debtor_id, match.how[:MATCHED_BY_LENGTH])
    return PaymentOutcome(payment.id, payment.external_id, payment.kind, payment.amount, payment.currency, status,
                          match.how, left, tuple(applied))


def _apply(uow: UnitOfWork, payment: _PaymentRow, invoice: InvoiceRef, amount: Decimal, actor: str,
           applied: list[Applied]) -> Decimal:
    """Apply up to `amount` to one invoice through the event primitive and record the allocation."""
    if amount <= 0:
        return Decimal(0)
    label = "credit note" if payment.kind == "credit_note" else "payment"
    used = apply_amount(uow, invoice.id, amount, on=payment.booked_on,
                               why=f"{label} {payment.external_id}", actor=actor)
    if used <= 0:
        return Decimal(0)
    uow.payments.allocate(payment.id, invoice.id, used, payment.booked_on)
    after = uow.invoices.open_amount_and_state(invoice.id)
    applied.append(Applied(invoice.number, used, after.open_amount, after.state))
    return used


def _other_open_invoices(uow: UnitOfWork, debtor_id: int, currency: str, skip: set[int]) -> list[InvoiceRef]:
    """The debtor's open invoices in `currency`, oldest due date first, for surplus money."""
    rows = uow.invoices.open_refs_of_debtor(debtor_id, currency, NO_SPILL_STATES)
    return [_ref(row) for row in rows if row.id not in skip and row.open_amount > 0]


def _ref(row: Any) -> InvoiceRef:
    return InvoiceRef(row.id, row.number, row.debtor_id, row.currency, row.due_date)


# --- matching ---------------------------------------------------------------------------------


def reference_tokens(reference: str) -> set[str]:
    """Upper-cased words of a remittance text that could be invoice numbers (they carry a digit)."""
    words = (word.strip(TOKEN_EDGES).upper() for word in TOKEN_SPLIT.split(reference))
    return {word for word in words if any(char.isdigit() for char in word)}


def rf_bodies(reference: str) -> set[str]:
    """The part after `RF` + 2 check digits of each ISO 11649 reference (also written in groups of 4)."""
    candidates = reference_tokens(reference) | {re.sub(r"\s+", "", reference).upper()}
    return {found.group(1) for text in candidates if (found := RF_REFERENCE.fullmatch(text))}


def compact(number: str) -> str:
    """An invoice number without separators, as it appears inside an RF reference."""
    return re.sub(r"[^A-Z0-9]", "", number.upper())


class InvoiceFinder:
    """Looks up every invoice number a batch of payments could mean, in a few queries per import."""

    def __init__(self, uow: UnitOfWork, records: list[PaymentRecord], named: Iterable[str]) -> None:
        self.uow = uow
        tokens = {token for record in records for token in reference_tokens(record.reference)}
        self.by_number = _invoices_by_number(uow, tokens | {number.upper() for number in named})
        self.by_compact = _invoices_by_compact(uow, {b for r in records for b in rf_bodies(r.reference)})

    def match(self, record: PaymentRecord, named: str | None = None) -> Match:
        if record.amount <= 0:
            return Match((), None, "amount 0: nothing to allocate")
        if named:
            found = _unique(self.by_number, named.upper())
            if not found:
                raise NotFound(f"unknown invoice '{named}' named for payment '{record.external_id}'")
            return Match((found[0],), found[0].debtor_id, "invoice column")
        return self.by_reference(record) or self.by_amount(record)

    def by_reference(self, record: PaymentRecord) -> Match | None:
        """Invoices named in the remittance text (exact token or RF reference), oldest due date first."""
        found = {i.id: i for token in reference_tokens(record.reference) for i in _unique(self.by_number, token)}
        structured = {i.id: i for body in rf_bodies(record.reference) for i in _unique(self.by_compact, body)}
        invoices = {**found, **structured}
        if not invoices:
            return None
        same = sorted((i for i in invoices.values() if i.currency == record.currency),
                      key=lambda i: (i.due_date, i.number))
        if not same:
            named = ", ".join(f"{i.number} ({i.currency})" for i in invoices.values())
            return Match((), None, f"currency: reference names {named}, payment is {record.currency}")
        how = "reference" if any(i.id in found for i in same) else "structured reference"
        return Match(tuple(same), same[0].debtor_id, how)

    def by_amount(self, record: PaymentRecord) -> Match:
        """Exactly one open invoice in the currency with exactly this open amount (not a cancelled one)."""
        # SQLite stores amounts as text: compared as numbers in SQL, then exactly as Decimal here.
        candidates = self.uow.invoices.refs_with_open_amount(record.currency, record.amount, CANCELLED, limit=3)
        rows = [row for row in candidates if row.open_amount == record.amount]
        if len(rows) == 1:
            return Match((_ref(rows[0]),), rows[0].debtor_id, "amount")
        if rows:
            return Match((), None, f"ambiguous: {len(rows)} or more open invoices of {record.amount}")
        return Match((), None, "no invoice number in the reference, no open invoice of this amount")


def _unique(index: dict[str, list[InvoiceRef]], key: str) -> list[InvoiceRef]:
    """The invoice a key names, if exactly one; two invoices differing only in case or separators are no match."""
    found = index.get(key, [])
    return found if len(found) == 1 else []


def _invoices_by_number(uow: UnitOfWork, tokens: set[str]) -> dict[str, list[InvoiceRef]]:
    """Upper-cased invoice number → invoices, for the tokens that are invoice numbers."""
    found: dict[str, list[InvoiceRef]] = {}
    for row in uow.invoices.refs_by_upper_number(sorted(tokens)):
        found.setdefault(row.number.upper(), []).append(_ref(row))
    return found


def _invoices_by_compact(uow: UnitOfWork, bodies: set[str]) -> dict[str, list[InvoiceRef]]:
    """Invoice number without separators → invoices; LIKE finds the candidates, Python compares exactly."""
    keys = sorted(bodies)
    found: dict[str, list[InvoiceRef]] = {}
    for start in range(0, len(keys), 50):
        chunk = keys[start:start + 50]
        for row in uow.invoices.refs_like_compact(chunk):
            if compact(row.number) in chunk:
                found.setdefault(compact(row.number), []).append(_ref(row))
    return found


# --- importing a file -------------------------------------------------------------------------


def import_payments(uow: UnitOfWork, path: Path, fmt: str | None, actor: str) -> PaymentReport:
    """Read and check the whole file (all problems at once), then record every new payment."""
    problems: list[Problem] = []
    records: list[PaymentRecord] = []
    try:
        records = read_payments(path, fmt)
    except InputProblems as exc:
        problems.extend(exc.problems)
    named, more = _named_invoices(uow, path, fmt)
    problems.extend(more)
    if problems:
        raise InputProblems(problems)
    return record_payments(uow, records, actor=actor, named=named)


def _table_of(path: Path, fmt: str | None) -> t.Table | None:
    """The file as a table if it is CSV/XLSX; None for camt.053 or a file `read_payments` already refused."""
    try:
        data = t.read_bytes(path)
        kind = (fmt or sniff_payments_format(path, data)).lower()
        return t.parse_table(str(path), data, kind) if kind in t.FORMATS else None
    except DunflowError:
        return None


def _named_invoices(uow: UnitOfWork, path: Path, fmt: str | None) -> tuple[dict[str, str], list[Problem]]:
    """The optional `invoice` column: payment id → invoice number, each one an existing invoice."""
    table = _table_of(path, fmt)
    if table is None or "invoice" not in table.columns:
        return {}, []
    rows = [row for row in table.rows if row.get("invoice")]
    known = _invoices_by_number(uow, {row.get("invoice").upper() for row in rows})
    named: dict[str, str] = {}
    problems: list[Problem] = []
    for row in rows:
        problem = _check_named(row, known.get(row.get("invoice").upper(), []))
        if problem is None:
            named[row.get("id")] = row.get("invoice")
        else:
            problems.append(problem)
    return named, problems


def _check_named(row: t.Row, invoices: list[InvoiceRef]) -> Problem | None:
    number, currency = row.get("invoice"), _currency_or_none(row.get("currency"))
    if len(invoices) != 1:
        hint = ("check the number (`dunflow show invoice NUMBER`), import the invoice first, "
                "or leave the cell empty to match by reference")
        return Problem(row.file, row.line, row.col("invoice"), f"unknown invoice '{number}'", hint,
                       "payments/unknown-invoice")
    if currency and invoices[0].currency != currency:
        message = f"invoice '{number}' is in {invoices[0].currency}, this payment in {currency}"
        return Problem(row.file, row.line, row.col("invoice"), message,
                       "a payment is applied only to an invoice in its own currency", "payments/currency")
    return None


def _currency_or_none(text: str) -> str | None:
    """The row's currency if valid; a bad one is already reported by the reader."""
    try:
        return t.to_currency(text)
    except t.BadValue:
        return None


# --- one payment by hand ----------------------------------------------------------------------


def add_payment(uow: UnitOfWork, invoice_number: str, amount: Decimal, on: date,
                reference: str | None = None, *, credit_note: bool = False, actor: str) -> PaymentOutcome:
    """Record one payment (or credit note) for an invoice; surplus goes as for an imported payment."""
    invoice = invoice_by_number(uow, invoice_number)
    amount = checked_amount(amount, invoice.currency)
    external_id = reference or _manual_id(uow, invoice.number, on, amount)
    _refuse_reused_id(uow, external_id)
    kind = "credit_note" if credit_note else "payment"
    record = PaymentRecord(external_id, on, amount, invoice.currency, reference or invoice.number, "", "",
                           f"{kind} add by {actor}")
    return _record(uow, record, kind, Match((invoice,), invoice.debtor_id, "manual"), actor)


def invoice_by_number(uow: UnitOfWork, number: str) -> InvoiceRef:
    row = uow.invoices.ref(number)
    if row is None:
        raise unknown_invoice(number)
    return _ref(row)


def checked_amount(amount: Decimal, currency: str) -> Decimal:
    """> 0 and within the currency's minor unit (a cent fraction is a typo, never rounded away), as 200.00."""
    if amount <= 0:
        raise DunflowError(f"amount {amount} is not greater than 0", "give the amount received, e.g. 250.00")
    try:
        exact = t.require_precision(amount, currency)
    except t.BadValue as bad:
        raise DunflowError(f"amount {bad.message}", bad.hint) from None
    return exact.quantize(Decimal(1).scaleb(-t.currency_digits(currency)))  # '200' -> 200.00


def _manual_id(uow: UnitOfWork, number: str, on: date, amount: Decimal) -> str:
    prefix = f"manual:{number}:{on.isoformat()}:{amount}:"
    return f"{prefix}{uow.payments.count_with_prefix(prefix) + 1}"


def _refuse_reused_id(uow: UnitOfWork, external_id: str) -> None:
    old = uow.payments.by_external_id([external_id]).get(external_id)
    if old is not None:
        raise DunflowError(
            f"a payment with reference '{external_id}' is already recorded "
            f"(#{old.id}: {money_text(old.amount, old.currency)} {old.currency} on {old.booked_on})",
            "nothing was changed; if this is another payment, give it its own --reference")


# --- unmatched money --------------------------------------------------------------------------


def unmatched_payments(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Payments with money not yet applied: unmatched entries and debtors' credits, oldest first."""
    rows = uow.payments.with_money_left(OPEN_STATUSES)
    return [{"id": row.id, "external_id": row.external_id, "status": row.status, "kind": row.kind,
             "date": row.booked_on.isoformat(), "amount": money_text(row.amount, row.currency),
             "currency": row.currency, "unallocated": money_text(row.unallocated, row.currency),
             "reference": row.reference, "payer": row.payer_name, "debtor": row.debtor_code,
             "why": row.matched_by} for row in rows]


def assign_payment(uow: UnitOfWork, payment_id: int, invoice_number: str, actor: str) -> PaymentOutcome:
    """Apply what is left of a payment to an invoice a person chose; surplus goes as for an import."""
    payment = _payment_for_update(uow, payment_id)
    if payment.unallocated <= 0:
        raise DunflowError(f"payment #{payment_id} is fully allocated: nothing left to assign",
                           "`dunflow payments unmatched` lists the payments with money left")
    invoice = invoice_by_number(uow, invoice_number)
    if invoice.currency != payment.currency:
        raise DunflowError(f"payment #{payment_id} is in {payment.currency}, invoice {invoice.number} in "
                           f"{invoice.currency}", "assign it to an invoice in the same currency")
    _require_open(uow, invoice)
    return _allocate(uow, payment, Match((invoice,), invoice.debtor_id, f"assigned by {actor}"), actor)


def _payment_for_update(uow: UnitOfWork, payment_id: int) -> _PaymentRow:
    row = uow.payments.locked(payment_id)
    if row is None:
        raise NotFound(f"unknown payment #{payment_id}", "`dunflow payments unmatched` lists the payment ids")
    return _PaymentRow(row.id, row.external_id, row.kind, row.booked_on, row.amount, row.currency, row.debtor_id,
                       row.unallocated)


def _require_open(uow: UnitOfWork, invoice: InvoiceRef) -> None:
    if uow.invoices.open_amount(invoice.id) <= 0:
        raise DunflowError(f"invoice {invoice.number} has nothing open", "choose an invoice that is still unpaid")
