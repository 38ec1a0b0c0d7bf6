"""Debtors, invoices, payments and allocations: the ledger's SQL, batched (a few queries per import).

Lookups by many keys go in chunks of 500 so no statement outgrows a driver's parameter limit.
Rows come back as SQLAlchemy rows; the ledger services turn them into their own facts.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, TypeVar

from sqlalchemy import (
    Connection,
    Numeric,
    Select,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from dunflow.store.orm import (
    Allocation,
    Case,
    Debt,
    Debtor,
    DebtorIban,
    Invoice,
    Payment,
    table_of,
)

DEBTORS, INVOICES, CASES = table_of(Debtor), table_of(Invoice), table_of(Case)
PAYMENTS, ALLOCATIONS, IBANS = table_of(Payment), table_of(Allocation), table_of(DebtorIban)
DEBTS = table_of(Debt)
CHUNK = 500
T = TypeVar("T")


def chunks(items: list[T], size: int = CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _invoice_refs() -> Select[Any]:
    """What matching needs of an invoice: id, number, debtor, currency, due date."""
    return select(INVOICES.c.id, INVOICES.c.number, INVOICES.c.debtor_id, INVOICES.c.currency, INVOICES.c.due_date)


# built once (a message's check before delivery runs it): reused, it is neither built nor compiled again
_WITH_CASES = (select(INVOICES, CASES.c.state, CASES.c.policy_version_id)
               .join(CASES, CASES.c.invoice_id == INVOICES.c.id)
               .where(INVOICES.c.number.in_(bindparam("numbers", expanding=True)))
               .order_by(INVOICES.c.due_date, INVOICES.c.number))
# and the statements a payment runs once each (`add_payment`, an imported entry): built once, not per payment
_SETTLE = update(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
_ALLOCATE = insert(ALLOCATIONS)
_REF = _invoice_refs().where(INVOICES.c.number == bindparam("number"))
_SET_OPEN_AMOUNT = update(INVOICES).where(INVOICES.c.id == bindparam("invoice_id"))
_OPEN_AMOUNT_AND_STATE = (select(INVOICES.c.open_amount, CASES.c.state).join(CASES, CASES.c.invoice_id == INVOICES.c.id)
                          .where(INVOICES.c.id == bindparam("invoice_id")))


class InvoiceRepository:
    """Debtors and their invoices."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- debtors ----------------------------------------------------------------------------------

    def debtors_by_code(self, codes: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in chunks(codes):
            found.update({r.code: r for r in self.connection.execute(select(DEBTORS).where(DEBTORS.c.code.in_(chunk)))})
        return found

    def debtors_by_id(self, ids: Iterable[int]) -> dict[int, Any]:
        id_list = list(ids)
        if not id_list:
            return {}
        return {row.id: row for row in self.connection.execute(select(DEBTORS).where(DEBTORS.c.id.in_(id_list)))}

    def debtor(self, debtor_id: int) -> Any:
        return self.connection.execute(select(DEBTORS).where(DEBTORS.c.id == debtor_id)).one()

    def debtor_id(self, code: str) -> int | None:
        found: int | None = self.connection.execute(select(DEBTORS.c.id).where(DEBTORS.c.code == code)).scalar()
        return found

    def debtor_ibans(self, ibans: list[str]) -> list[Any]:
        """(iban, debtor_id) of the debtors known to pay from these IBANs."""
        rows: list[Any] = []
        for chunk in chunks(ibans):
            rows += self.connection.execute(select(IBANS.c.iban, IBANS.c.debtor_id).where(IBANS.c.iban.in_(chunk)))
        return rows

    def add_debtor_iban(self, debtor_id: int, iban: str, learned_from: str) -> None:
        self.connection.execute(insert(IBANS).values(debtor_id=debtor_id, iban=iban, learned_from=learned_from))

    def add_debtors(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(DEBTORS), rows)

    def update_debtor(self, code: str, values: dict[str, Any]) -> None:
        self.connection.execute(update(DEBTORS).where(DEBTORS.c.code == code).values(**values))

    # --- invoices ---------------------------------------------------------------------------------

    def by_number(self, numbers: list[str]) -> dict[str, Any]:
        """Full invoice rows by number."""
        found: dict[str, Any] = {}
        for chunk in chunks(numbers):
            found.update({r.number: r for r in self.connection.execute(
                select(INVOICES).where(INVOICES.c.number.in_(chunk)))})
        return found

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(INVOICES), rows)

    def set_open_amount(self, invoice_id: int, amount: Decimal) -> None:
        self.connection.execute(_SET_OPEN_AMOUNT, {"invoice_id": invoice_id, "open_amount": amount})

    def set_amount(self, invoice_id: int, amount: Decimal) -> None:
        """The invoice's total (an ERP credit note changed it); the open amount is set apart."""
        self.connection.execute(update(INVOICES).where(INVOICES.c.id == invoice_id).values(amount=amount))

    def open_amounts_of_cases_not_in(self, states: tuple[str, ...]) -> list[Any]:
        """(id, number, open_amount) of the invoices whose case is in none of `states`."""
        return list(self.connection.execute(
            select(INVOICES.c.id, INVOICES.c.number, INVOICES.c.open_amount)
            .join(CASES, CASES.c.invoice_id == INVOICES.c.id).where(CASES.c.state.not_in(states))))

    def open_amount_and_debtor_name(self, invoice_id: int) -> Any:
        return self.connection.execute(select(INVOICES.c.open_amount, DEBTORS.c.name).join(
            DEBTORS, DEBTORS.c.id == INVOICES.c.debtor_id).where(INVOICES.c.id == invoice_id)).one()

    def open_amount(self, invoice_id: int) -> Decimal:
        amount: Decimal = self.connection.execute(
            select(INVOICES.c.open_amount).where(INVOICES.c.id == invoice_id)).scalar_one()
        return amount

    def open_amount_and_state(self, invoice_id: int) -> Any:
        return self.connection.execute(_OPEN_AMOUNT_AND_STATE, {"invoice_id": invoice_id}).one()

    def with_cases(self, numbers: list[str]) -> list[Any]:
        """Invoices with their case's state and policy version, oldest due date first."""
        return list(self.connection.execute(_WITH_CASES, {"numbers": list(numbers)}))

    # --- finding invoices a payment could mean ------------------------------------------------------

    def ref(self, number: str) -> Any:
        return self.connection.execute(_REF, {"number": number}).first()

    def refs_by_upper_number(self, words: list[str]) -> list[Any]:
        """Invoices whose upper-cased number is one of `words`."""
        rows: list[Any] = []
        for chunk in chunks(sorted(words)):
            rows += self.connection.execute(_invoice_refs().where(func.upper(INVOICES.c.number).in_(chunk)))
        return rows

    def refs_like_compact(self, keys: list[str]) -> list[Any]:
        """Candidates for numbers without separators (LIKE with any separators between the characters)."""
        patterns = [func.upper(INVOICES.c.number).like("%" + "%".join(key) + "%") for key in keys]
        return list(self.connection.execute(_invoice_refs().where(or_(*patterns))))

    def refs_with_open_amount(self, currency: str, amount: Decimal, excluded_state: str, limit: int) -> list[Any]:
        """Invoices in `currency` whose open amount equals `amount` (compared as numbers: SQLite stores text)."""
        same = cast(INVOICES.c.open_amount, Numeric(18, 4)) == cast(literal(str(amount)), Numeric(18, 4))
        query = (_invoice_refs().add_columns(INVOICES.c.open_amount).join(CASES, CASES.c.invoice_id == INVOICES.c.id)
                 .where(INVOICES.c.currency == currency, CASES.c.state != excluded_state, same).limit(limit))
        return list(self.connection.execute(query))

    def refs_that_may_owe_charges(self, currency: str, amount: Decimal, excluded_state: str) -> list[Any]:
        """Invoices in `currency` with some principal open, less than `amount`, that a notice was delivered about
        after their due date (a `debts` row: only such invoices carry charges or interest from default): those whose
        total due could be `amount`. The caller computes each total due exactly."""
        number = cast(INVOICES.c.open_amount, Numeric(18, 4))
        query = (_invoice_refs().add_columns(INVOICES.c.open_amount)
                 .join(CASES, CASES.c.invoice_id == INVOICES.c.id).join(DEBTS, DEBTS.c.invoice_id == INVOICES.c.id)
                 .where(INVOICES.c.currency == currency, CASES.c.state != excluded_state, number > 0,
                        number < cast(literal(str(amount)), Numeric(18, 4)))
                 .order_by(INVOICES.c.due_date, INVOICES.c.number))
        return list(self.connection.execute(query))

    def open_refs_of_debtor(self, debtor_id: int, currency: str, excluded_states: tuple[str, ...]) -> list[Any]:
        """The debtor's invoices in `currency` (with open amounts), oldest due date first."""
        return list(self.connection.execute(
            _invoice_refs().add_columns(INVOICES.c.open_amount)
            .join(CASES, CASES.c.invoice_id == INVOICES.c.id)
            .where(INVOICES.c.debtor_id == debtor_id, INVOICES.c.currency == currency,
                   CASES.c.state.not_in(excluded_states))
            .order_by(INVOICES.c.due_date, INVOICES.c.number)))


class PaymentRepository:
    """Payments (bank entries, credit notes) and their allocations to invoices."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def by_external_id(self, ids: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in chunks(ids):
            found.update({row.external_id: row for row in self.connection.execute(
                select(PAYMENTS).where(PAYMENTS.c.external_id.in_(chunk)))})
        return found

    def add(self, values: dict[str, Any], recorded_at: datetime) -> int:
        return int(self.connection.execute(insert(PAYMENTS).returning(PAYMENTS.c.id)
                                           .values(**values, recorded_at=recorded_at)).scalar_one())

    def settle(self, payment_id: int, unallocated: Decimal, status: str, debtor_id: int | None,
               matched_by: str) -> None:
        self.connection.execute(_SETTLE, dict(payment_id=payment_id, unallocated=unallocated, status=status,
                                              debtor_id=debtor_id, matched_by=matched_by))

    def allocate(self, payment_id: int, invoice_id: int, amount: Decimal, on: date) -> None:
        self.connection.execute(_ALLOCATE, dict(payment_id=payment_id, invoice_id=invoice_id, amount=amount, on=on))

    def allocations_since(self, invoice_ids: list[int], since: date) -> list[Any]:
        """(invoice_id, amount, on) of the allocations to these invoices on or after `since`."""
        rows: list[Any] = []
        for chunk in chunks(invoice_ids):
            rows += self.connection.execute(select(ALLOCATIONS.c.invoice_id, ALLOCATIONS.c.amount, ALLOCATIONS.c.on)
                                            .where(ALLOCATIONS.c.invoice_id.in_(chunk), ALLOCATIONS.c.on >= since))
        return rows

    def count_with_prefix(self, prefix: str) -> int:
        return int(self.connection.execute(select(func.count()).select_from(PAYMENTS).where(
            PAYMENTS.c.external_id.startswith(prefix, autoescape=True))).scalar_one())

    def locked(self, payment_id: int) -> Any:
        return self.connection.execute(select(PAYMENTS).where(PAYMENTS.c.id == payment_id).with_for_update()).first()

    def with_money_left(self, statuses: tuple[str, ...]) -> list[Any]:
        """Payments in `statuses`, with their debtor's code, oldest first."""
        return list(self.connection.execute(
            select(PAYMENTS, DEBTORS.c.code.label("debtor_code"))
            .outerjoin(DEBTORS, DEBTORS.c.id == PAYMENTS.c.debtor_id)
            .where(PAYMENTS.c.status.in_(statuses)).order_by(PAYMENTS.c.booked_on, PAYMENTS.c.id)))

    def all_with_debtors(self) -> list[Any]:
        """Every payment, return and credit note with its debtor's code, oldest first."""
        return list(self.connection.execute(
            select(PAYMENTS, DEBTORS.c.code.label("debtor_code"))
            .outerjoin(DEBTORS, DEBTORS.c.id == PAYMENTS.c.debtor_id)
            .order_by(PAYMENTS.c.booked_on, PAYMENTS.c.id)))

    def allocations_with_numbers(self) -> list[Any]:
        """(payment_id, number, amount, on) of every allocation, in the order they were made."""
        return list(self.connection.execute(
            select(ALLOCATIONS.c.payment_id, INVOICES.c.number, ALLOCATIONS.c.amount, ALLOCATIONS.c.on)
            .join(INVOICES, INVOICES.c.id == ALLOCATIONS.c.invoice_id).order_by(ALLOCATIONS.c.id)))

    def allocations_of(self, payment_id: int) -> list[Any]:
        """(invoice_id, amount) of the payment's allocations, in the order they were made."""
        return list(self.connection.execute(
            select(ALLOCATIONS.c.invoice_id, ALLOCATIONS.c.amount)
            .where(ALLOCATIONS.c.payment_id == payment_id).order_by(ALLOCATIONS.c.id)))

    def payer_iban(self, payment_id: int) -> str:
        found: str = self.connection.execute(
            select(PAYMENTS.c.payer_iban).where(PAYMENTS.c.id == payment_id)).scalar_one()
        return found

    def returnable(self, original: str, currency: str, on_or_before: date) -> list[Any]:
        """(id, amount) of unreversed payments in `currency` booked by `on_or_before` that `original` names
        (by EndToEndId or entry key)."""
        return list(self.connection.execute(select(PAYMENTS.c.id, PAYMENTS.c.amount).where(
            or_(PAYMENTS.c.end_to_end_id == original, PAYMENTS.c.external_id == original),
            PAYMENTS.c.kind != "return", PAYMENTS.c.reversed_on.is_(None), PAYMENTS.c.booked_on <= on_or_before,
            PAYMENTS.c.currency == currency)))

    def mark_reversed(self, payment_id: int, on: date, reason: str) -> None:
        self.connection.execute(update(PAYMENTS).where(PAYMENTS.c.id == payment_id).values(
            status="reversed", unallocated=Decimal(0), reversed_on=on, reversal_reason=reason))
