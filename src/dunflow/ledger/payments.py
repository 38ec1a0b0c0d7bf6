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
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from stdnum.ch import esr

from dunflow.domain.money import minor_unit
from dunflow.domain.policy import (
    ARRANGEMENT,
    BELOW_MINIMUM,
    CANCELLED,
    DISPUTED,
    NEW,
    NOT_DUNNED,
    PAID,
)
from dunflow.errors import (
    DunflowError,
    InputProblems,
    NotFound,
    Problem,
    unknown_invoice,
)
from dunflow.events import firing as events
from dunflow.events.arrangements import rejoin_arrangement
from dunflow.formats import tables as t
from dunflow.formats.bankcsv import CsvProfile
from dunflow.formats.bankfiles import (
    read_bank_file,
    rf_reference_valid,
    sniff_payments_format,
)
from dunflow.formats.entries import SKIP_REASONS, BankFile, PaymentRecord, ReturnRecord
from dunflow.ledger.allocation import _record_partial, unpay_installments
from dunflow.engine.charges import debts
from dunflow.ledger.debt import give_back, pay_debt
from dunflow.store.uow import UnitOfWork

OPEN_STATUSES = ("unmatched", "credit")
NO_SPILL_STATES = (DISPUTED, CANCELLED)  # a contested or cancelled invoice never absorbs surplus money
RF_REFERENCE = re.compile(r"RF[0-9]{2}([A-Z0-9]{1,21})")
TOKEN_SPLIT = re.compile(r"[\s,;:]+")
TOKEN_EDGES = ".()[]{}<>\"'!?#*"
INVOICE_WORD = re.compile(r"(rechnung|rechnungs-?nr|rg|re|invoice|inv|factuur|fact|facture|fattura|faktura|nota)"
                          r"\.?\s*(nr|no|nummer|number|num)?\.?\s*[:#-]?\s*$", re.IGNORECASE)
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


@dataclass(frozen=True)
class ReturnOutcome:
    """A returned payment: which payment it took back (None: waiting in `payments unmatched`), and why."""

    external_id: str
    amount: Decimal
    currency: str
    reason: str
    reversed_payment: int | None
    reopened: tuple[str, ...]
    why_unmatched: str = ""


@dataclass
class PaymentReport:
    """What an import did with every entry of the file: recorded, returned, already known, or skipped and why."""

    already_imported: int = 0
    outcomes: list[PaymentOutcome] = field(default_factory=list)
    returns: list[ReturnOutcome] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        return len(self.outcomes)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    def as_json(self) -> dict[str, Any]:
        """The stable JSON of `import payments --format json`."""
        return {"recorded": self.recorded, "matched": self.count("matched"), "credit": self.count("credit"),
                "unmatched": self.count("unmatched"), "already_imported": self.already_imported,
                "returns": len(self.returns), "returns_unmatched": sum(r.reversed_payment is None for r in self.returns),
                "skipped": {reason: self.skipped.get(reason, 0) for reason in SKIP_REASONS},
                "payments": [outcome_json(outcome) for outcome in self.outcomes],
                "reversals": [{"external_id": r.external_id, "amount": money_text(r.amount, r.currency),
                               "currency": r.currency, "reason": r.reason, "payment_id": r.reversed_payment,
                               "reopened": list(r.reopened), "why_unmatched": r.why_unmatched}
                              for r in self.returns]}


def outcome_json(outcome: PaymentOutcome) -> dict[str, Any]:
    """One recorded payment as JSON (imports, `payments add|assign`): amounts as decimal strings in the
    currency's minor unit."""
    def money(amount: Decimal) -> str:
        return money_text(amount, outcome.currency)

    return {"id": outcome.payment_id, "external_id": outcome.external_id, "kind": outcome.kind,
            "amount": money(outcome.amount), "currency": outcome.currency, "status": outcome.status,
            "matched_by": outcome.matched_by, "unallocated": money(outcome.unallocated),
            "applied": [{"invoice": a.invoice, "amount": money(a.amount), "open_amount": money(a.open_amount),
                         "state": a.state} for a in outcome.applied]}


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
    return str(amount.quantize(minor_unit(currency)))


# --- recording --------------------------------------------------------------------------------


def record_payments(uow: UnitOfWork, records: list[PaymentRecord], *, actor: str,
                    named: Mapping[str, str] | None = None) -> PaymentReport:
    """Insert and apply each new record; entries recorded before are skipped (a re-import changes nothing).

    `named` maps an external id to the invoice number a file names for it explicitly. An entry recorded
    before with another amount, currency or date is an error, never a warning: one of the two is wrong,
    and keeping either silently loses money.
    """
    report = PaymentReport()
    fresh = _new_records(uow, records, report)
    finder = InvoiceFinder(uow, fresh, (named or {}).values())
    uow.cases.lock_debtors(finder.debtor_ids(), wait=True)
    for record in fresh:
        match = finder.match(record, (named or {}).get(record.external_id))
        report.outcomes.append(_record(uow, record, "payment", match, actor))
    return report


def _new_records(uow: UnitOfWork, records: list[PaymentRecord], report: PaymentReport) -> list[PaymentRecord]:
    known: dict[str, Any] = uow.payments.by_external_id([record.external_id for record in records])
    fresh: list[PaymentRecord] = []
    problems: list[Problem] = []
    for record in records:
        old = known.get(record.external_id)
        if old is None:
            fresh.append(record)
            known[record.external_id] = record
        elif (old.amount, old.currency, old.booked_on) != (record.amount, record.currency, record.booked_on):
            problems.append(_changed(record, old))
        else:
            report.already_imported += 1
    if problems:
        raise InputProblems(problems)
    return fresh


def _changed(record: PaymentRecord, old: Any) -> Problem:
    file, _, where = record.source.rpartition(":")
    line = int(where) if where.isdigit() else 0
    message = (f"entry '{record.external_id}' ({where if not line else 'this line'}) was imported before as "
               f"{money_text(old.amount, old.currency)} {old.currency} on {old.booked_on}, now it says "
               f"{record.amount} {record.currency} on {record.booked_on}")
    hint = "one of the two files is wrong; ask the bank, or reverse the recorded payment first (payments reverse ID)"
    return Problem(file if line else record.source, line, 0, message, hint, "payments/changed")


def _record(uow: UnitOfWork, record: PaymentRecord, kind: str, match: Match, actor: str) -> PaymentOutcome:
    payment_id = uow.payments.add(dict(
        external_id=record.external_id, kind=kind, booked_on=record.booked_on, amount=record.amount,
        currency=record.currency, reference=record.reference, payer_name=record.payer_name[:200],
        payer_iban=record.payer_iban[:64], source=record.source[:500], debtor_id=None, status="unmatched",
        matched_by="", unallocated=record.amount, end_to_end_id=record.end_to_end_id[:200]),
        recorded_at=uow.clock.now())
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
    used = pay_debt(uow, invoice.id, amount, on=payment.booked_on,
                    why=f"{label} {payment.external_id}", actor=actor, payment_id=payment.id)
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
    """The part after `RF` + 2 check digits of each ISO 11649 reference whose check digits are right.

    A reference with wrong check digits is a typo or not an RF reference at all: trusting it could name
    another invoice.
    """
    candidates = reference_tokens(reference) | {re.sub(r"\s+", "", reference).upper()}
    return {found.group(1) for text in candidates
            if (found := RF_REFERENCE.fullmatch(text)) and rf_reference_valid(text)}


def qr_bodies(reference: str) -> set[str]:
    """The number inside each Swiss QR/ISR reference (27 digits, recursive mod-10 check digit right).

    The creditor's own numbering with leading zeros and the check digit removed, e.g.
    '00000000000000000000010312' → '1031'.
    """
    compact_text = re.sub(r"\s+", "", reference)
    candidates = set(re.findall(r"(?<![0-9])[0-9]{27}(?![0-9])", compact_text))
    return {found[:-1].lstrip("0") for found in candidates if esr.is_valid(found) and found[:-1].lstrip("0")}


def named_as_invoice(reference: str, token: str) -> bool:
    """True when `token` stands in `reference` as an invoice number ('Rechnung 1002', 'factuur nr. 1002').

    A bare number is also a customer, contract or order number ('Kd-Nr 1002', 'Vertrag 1003').
    """
    for found in re.finditer(rf"(?<![A-Z0-9]){re.escape(token)}(?![A-Z0-9])", reference.upper()):
        if INVOICE_WORD.search(reference[max(0, found.start() - 30):found.start()]):
            return True
    return False


def compact(number: str) -> str:
    """An invoice number without separators, as it appears inside an RF reference."""
    return re.sub(r"[^A-Z0-9]", "", number.upper())


class InvoiceFinder:
    """Looks up every invoice number a batch of payments could mean, in a few queries per import."""

    def __init__(self, uow: UnitOfWork, records: list[PaymentRecord], named: Iterable[str]) -> None:
        self.uow = uow
        tokens = {token for record in records for token in reference_tokens(record.reference)}
        self.by_number = _invoices_by_number(uow, tokens | {number.upper() for number in named})
        bodies = {b for r in records for b in rf_bodies(r.reference) | qr_bodies(r.reference)}
        self.by_compact = _invoices_by_compact(uow, bodies)
        self.payers = known_ibans(uow, {record.payer_iban for record in records if record.payer_iban})

    def debtor_ids(self) -> list[int]:
        """Every debtor these payments may name, in ascending order: the import locks them all first, in the
        order the runner locks debtors, before it touches any of their invoices, so the two never deadlock."""
        invoices = [i for found in (*self.by_number.values(), *self.by_compact.values()) for i in found]
        return sorted({i.debtor_id for i in invoices} | {d for debtors in self.payers.values() for d in debtors})

    def match(self, record: PaymentRecord, named: str | None = None) -> Match:
        if record.problem:
            return Match((), None, record.problem)
        if named:
            found = _unique(self.by_number, named.upper())
            if not found:
                raise NotFound(f"unknown invoice '{named}' named for payment '{record.external_id}'")
            return Match((found[0],), found[0].debtor_id, "invoice column")
        return self.by_reference(record) or self.by_payer(record) or self.by_amount(record)

    def by_reference(self, record: PaymentRecord) -> Match | None:
        """Invoices named in the remittance text (exact token or RF reference), oldest due date first.

        A number of digits only names an invoice only with more evidence (see `evidence`).
        """
        found = {i.id: i for token in reference_tokens(record.reference) for i in _unique(self.by_number, token)
                 if not token.isdigit() or self.evidence(record, i, token)}
        bodies = rf_bodies(record.reference) | qr_bodies(record.reference)
        structured = {i.id: i for body in bodies for i in _unique(self.by_compact, body)}
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

    def evidence(self, record: PaymentRecord, invoice: InvoiceRef, token: str) -> bool:
        """A numeric invoice number counts when it is written as one, the payer's IBAN is the debtor's,
        the payer's name is the debtor's, or the amount is exactly what is open."""
        if named_as_invoice(record.reference, token) or invoice.debtor_id in self.payers.get(record.payer_iban, ()):
            return True
        row = self.uow.invoices.open_amount_and_debtor_name(invoice.id)
        same_name = bool(record.payer_name) and row.name.casefold().strip() == record.payer_name.casefold().strip()
        return same_name or row.open_amount == record.amount or self._total_due(invoice.id, record) == record.amount

    def _total_due(self, invoice_id: int, record: PaymentRecord) -> Decimal | None:
        """Open principal plus open charges and the interest accrued to the payment's date."""
        found = debts(self.uow, [invoice_id], record.booked_on).get(invoice_id)
        return found.debt.total_due if found is not None else None

    def by_payer(self, record: PaymentRecord) -> Match | None:
        """A payer IBAN known for exactly one debtor: the money is that debtor's, applied oldest invoice first."""
        debtors = self.payers.get(record.payer_iban, set())
        if len(debtors) != 1:
            return None
        [debtor_id] = debtors
        return Match((), debtor_id, "payer IBAN")

    def by_amount(self, record: PaymentRecord) -> Match:
        """Exactly one open invoice in the currency whose open principal, or whose total due (principal plus
        charges and the interest to the payment's date), is exactly this amount (not a cancelled one)."""
        # SQLite stores amounts as text: compared as numbers in SQL, then exactly as Decimal here.
        candidates = self.uow.invoices.refs_with_open_amount(record.currency, record.amount, CANCELLED, limit=3)
        rows = [row for row in candidates if row.open_amount == record.amount]
        how = "amount"
        if len(rows) < 2:
            owing = self.uow.invoices.refs_that_may_owe_charges(record.currency, record.amount, CANCELLED)
            totals = debts(self.uow, [row.id for row in owing], record.booked_on)
            by_total = [row for row in owing if row.id in totals and totals[row.id].debt.total_due == record.amount]
            how = "total due" if by_total and not rows else how
            rows += by_total
        if len(rows) == 1:
            return Match((_ref(rows[0]),), rows[0].debtor_id, how)
        if rows:
            return Match((), None, f"ambiguous: {len(rows)} or more open invoices of {record.amount}")
        return Match((), None, "no invoice number in the reference, no open invoice of this amount")


def known_ibans(uow: UnitOfWork, ibans: set[str]) -> dict[str, set[int]]:
    """IBAN → the debtors known to pay from it."""
    found: dict[str, set[int]] = {}
    for row in uow.invoices.debtor_ibans(sorted(ibans)):
        found.setdefault(row.iban, set()).add(row.debtor_id)
    return found


def learn_iban(uow: UnitOfWork, debtor_id: int, iban: str, learned_from: str) -> bool:
    """Remember that `debtor_id` pays from `iban` (once); True if it was new."""
    if not iban or debtor_id in known_ibans(uow, {iban}).get(iban, set()):
        return False
    uow.invoices.add_debtor_iban(debtor_id, iban, learned_from[:200])
    return True


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


def import_payments(uow: UnitOfWork, path: Path, fmt: str | None, actor: str, *,
                    profile: str | None = None, profiles: Mapping[str, CsvProfile] | None = None,
                    own_accounts: Iterable[str] = ()) -> PaymentReport:
    """Read and check the whole file (all problems at once), then record every new payment and return.

    `own_accounts` are the creditor's IBANs: a statement of another account is refused, since its
    credits are not payments to us.
    """
    found = BankFile()
    try:
        found = read_bank_file(path, fmt, profiles, profile)
    except InputProblems as exc:
        found.problems.extend(exc.problems)
    problems = list(found.problems) + _foreign_accounts(str(path), found, own_accounts)
    named, more = _named_invoices(uow, path, fmt) if not profile else ({}, [])
    problems.extend(more)
    if problems:
        raise InputProblems(problems)
    report = record_payments(uow, found.records, actor=actor, named=named)
    report.skipped = dict(found.skipped)
    report.returns = [outcome for entry in found.returns if (outcome := _return(uow, entry, actor, report))]
    return report


def _foreign_accounts(label: str, found: BankFile, own_accounts: Iterable[str]) -> list[Problem]:
    own = {account.replace(" ", "").upper() for account in own_accounts if account}
    ibans = {account for account in found.accounts if re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}", account)}
    foreign = sorted(ibans - own) if own else []  # other account ids (Othr, BLZ/Kto) cannot be compared
    return [Problem(label, 0, 0, f"the statement is for account {account}, not one of the creditor's "
                    f"({', '.join(sorted(own))})", "import the statements of your own account (creditor.iban in "
                    "dunflow.yaml)", "payments/account") for account in foreign]


def _table_of(path: Path, fmt: str | None) -> t.Table | None:
    """The file as a table if it is CSV/XLSX; None for a bank format or a file the reader already refused."""
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
    return exact.quantize(minor_unit(currency))  # '200' -> 200.00


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


def list_payments(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every payment, return and credit note with its allocations (negative ones undo a reversed payment)."""
    allocations: dict[int, list[dict[str, str]]] = {}
    for row in uow.payments.allocations_with_numbers():
        allocations.setdefault(row.payment_id, []).append(
            {"invoice": row.number, "amount": str(row.amount), "on": row.on.isoformat()})
    rows = uow.payments.all_with_debtors()
    return [{"id": row.id, "external_id": row.external_id, "kind": row.kind, "status": row.status,
             "date": row.booked_on.isoformat(), "amount": money_text(row.amount, row.currency),
             "currency": row.currency, "unallocated": money_text(row.unallocated, row.currency),
             "reference": row.reference, "payer": row.payer_name, "payer_iban": row.payer_iban,
             "debtor": row.debtor_code, "why": row.matched_by, "source": row.source,
             "reversed_on": row.reversed_on.isoformat() if row.reversed_on else None,
             "reversal_reason": row.reversal_reason,
             "allocations": [{**a, "amount": money_text(Decimal(a["amount"]), row.currency)}
                             for a in allocations.get(row.id, [])]} for row in rows]


def assign_payment(uow: UnitOfWork, payment_id: int, invoice_number: str, actor: str) -> PaymentOutcome:
    """Apply what is left of a payment to an invoice a person chose; surplus goes as for an import."""
    payment = _payment_for_update(uow, payment_id)
    if payment.kind == "return":
        raise DunflowError(f"#{payment_id} is a returned payment, not money received",
                           "reverse the payment it returned with `dunflow payments reverse ID --reason TEXT`")
    if payment.unallocated <= 0:
        raise DunflowError(f"payment #{payment_id} is fully allocated: nothing left to assign",
                           "`dunflow payments unmatched` lists the payments with money left")
    invoice = invoice_by_number(uow, invoice_number)
    if invoice.currency != payment.currency:
        raise DunflowError(f"payment #{payment_id} is in {payment.currency}, invoice {invoice.number} in "
                           f"{invoice.currency}", "assign it to an invoice in the same currency")
    _require_open(uow, invoice)
    iban = uow.payments.payer_iban(payment_id)
    learn_iban(uow, invoice.debtor_id, iban, f"payment #{payment_id} assigned by {actor}")
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


# --- returns and reversals --------------------------------------------------------------------


def _return(uow: UnitOfWork, entry: ReturnRecord, actor: str, report: PaymentReport) -> ReturnOutcome | None:
    """A returned credit from a bank file: reverse the payment it names, or keep it for a person.

    The return is recorded as a payment row of kind `return` under its own entry key, so a re-import
    finds it; one whose original cannot be told for sure waits in `payments unmatched`.
    """
    if uow.payments.by_external_id([entry.external_id]):
        report.already_imported += 1
        return None
    original, why = _returned_payment(uow, entry)
    reopened: tuple[str, ...] = ()
    if original is not None:
        reopened = reverse_payment(uow, original, entry.reason, on=entry.booked_on, actor=actor)
    uow.payments.add(dict(
        external_id=entry.external_id, kind="return", booked_on=entry.booked_on, amount=entry.amount,
        currency=entry.currency, reference=f"{entry.original} {entry.reason}".strip(), payer_name="", payer_iban="",
        source=entry.source[:500], debtor_id=None, status="return" if original is not None else "unmatched",
        matched_by=(f"returns payment #{original}" if original is not None else why)[:MATCHED_BY_LENGTH],
        unallocated=Decimal(0) if original is not None else entry.amount,
        end_to_end_id=entry.original[:200]), recorded_at=uow.clock.now())
    return ReturnOutcome(entry.external_id, entry.amount, entry.currency, entry.reason, original, reopened, why)


def _returned_payment(uow: UnitOfWork, entry: ReturnRecord) -> tuple[int | None, str]:
    """The one unreversed payment of this amount and currency the return names by EndToEndId or key."""
    if not entry.original:
        return None, "return without the original's EndToEndId: reverse the payment by hand (payments reverse ID)"
    # a return never comes before the payment it returns
    rows = uow.payments.returnable(entry.original, entry.currency, entry.booked_on)
    same = [row.id for row in rows if row.amount == entry.amount]
    if len(same) == 1:
        return same[0], ""
    if not same:
        return None, f"return of {entry.original}: no recorded payment of {entry.amount} {entry.currency} with it"
    return None, f"return of {entry.original}: {len(same)} payments could be meant; reverse one by hand"


def reverse_payment(uow: UnitOfWork, payment_id: int, reason: str, *, on: date, actor: str) -> tuple[str, ...]:
    """Take a payment back (a bank return, a bounced cheque, a booking error): re-open what it paid.

    Each invoice gets back what the payment gave it, recorded as a negative allocation; a paid (or
    below-minimum) case is re-opened at the dunning state the payment found it in, so dunning resumes
    from there, and the reason goes into the audit trail. Returns the re-opened invoice numbers.
    """
    row = uow.payments.locked(payment_id)
    if row is None:
        raise NotFound(f"unknown payment #{payment_id}", "`dunflow payments list` shows the payment ids")
    if row.kind == "return":
        raise DunflowError(f"#{payment_id} is itself a return", "reverse the payment it returned instead")
    if row.reversed_on is not None:
        raise DunflowError(f"payment #{payment_id} was already reversed on {row.reversed_on} ({row.reversal_reason})",
                           "nothing was changed")
    if on < row.booked_on:
        raise DunflowError(f"payment #{payment_id} arrived on {row.booked_on}; it cannot be reversed on {on}",
                           "give the date of the return with --as-of")
    why = f"payment {row.external_id} reversed: {reason}"
    reopened = [number for invoice_id, amount in _net_allocations(uow, payment_id)
                if (number := _reopen(uow, payment_id, invoice_id, amount, on, why, actor))]
    uow.payments.mark_reversed(payment_id, on, reason)
    return tuple(reopened)


def _net_allocations(uow: UnitOfWork, payment_id: int) -> list[tuple[int, Decimal]]:
    """What the payment still gives each invoice (allocations summed exactly, in Python: SQLite keeps text)."""
    totals: dict[int, Decimal] = {}
    for row in uow.payments.allocations_of(payment_id):
        totals[row.invoice_id] = totals.get(row.invoice_id, Decimal(0)) + row.amount
    return [(invoice_id, amount) for invoice_id, amount in totals.items() if amount > 0]


def _reopen(uow: UnitOfWork, payment_id: int, invoice_id: int, amount: Decimal, on: date, why: str,
            actor: str) -> str:
    """Give back to one invoice what the payment gave it, recorded as a negative allocation."""
    uow.payments.allocate(payment_id, invoice_id, -amount, on)
    principal = give_back(uow, payment_id, invoice_id, amount, on)  # charges first re-opened, last paid first
    return reopen_invoice(uow, invoice_id, principal, on=on, why=why, actor=actor)


def reopen_invoice(uow: UnitOfWork, invoice_id: int, amount: Decimal, *, on: date, why: str,
                   actor: str) -> str:
    """Raise an invoice's open amount by `amount` and re-open its case if it was paid or below the minimum.

    The case goes back to the dunning state it was in when it was closed, so dunning resumes from there
    (overdue steps follow by the catch-up rule). Returns the invoice number.
    """
    arrangement_id = unpay_installments(uow, invoice_id, amount)
    case = events.case_by_invoice_id(uow, invoice_id)
    open_amount = case.open_amount + amount
    uow.invoices.set_open_amount(invoice_id, open_amount)
    detail = f"{why}: {amount} {case.currency} re-opened, {open_amount} {case.currency} open"
    if case.state in (PAID, BELOW_MINIMUM):
        resume = case.resume_state or _state_before(uow, case.case_id, case.state)
        events.fire(uow, replace(case, resume_state=resume), "reopen", on=on, rule=detail, actor=actor,
                    kind="reversal")
    else:
        _record_partial(uow, case, on, detail, actor)  # no state change: an audit entry only
    if arrangement_id is not None and case.state != ARRANGEMENT:
        rejoin_arrangement(uow, events.case_by_invoice_id(uow, invoice_id), arrangement_id, on, why, actor)
    return case.number


def _state_before(uow: UnitOfWork, case_id: int, state: str) -> str:
    """The dunning state a case left for `state` (cases closed before pay remembered it), else `new`."""
    found = uow.cases.last_from_state(case_id, state)
    return found if found and found not in NOT_DUNNED else NEW
