"""The debt sub-ledger's SQL: charge lines, what payments gave them, the per-invoice timing row, and the
collection hand-over. Booking is exactly-once by `source_key` (insert … on conflict do nothing), so a repeated
or concurrent run books a charge once; amounts are summed in Python (SQLite keeps them as text)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import Connection, Date, and_, bindparam, case, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dunflow.store.ledger import chunks
from dunflow.store.orm import (
    Action,
    Allocation,
    Case,
    CollectionCase,
    CollectionReported,
    Debt,
    DebtLine,
    DebtLinePayment,
    Debtor,
    Invoice,
    Promise,
    table_of,
)

DEBTS, LINES, LINE_PAYMENTS = table_of(Debt), table_of(DebtLine), table_of(DebtLinePayment)
COLLECTION, REPORTED = table_of(CollectionCase), table_of(CollectionReported)
INVOICES, DEBTORS, CASES, ALLOCATIONS = table_of(Invoice), table_of(Debtor), table_of(Case), table_of(Allocation)
ACTIONS, PROMISES = table_of(Action), table_of(Promise)


# built once: the run and the send path ask for a few invoices' facts and lines at a time, many times a day;
# a reused statement is neither built nor compiled again
_FACTS = (select(INVOICES.c.id, INVOICES.c.number, INVOICES.c.currency, INVOICES.c.amount,
                 INVOICES.c.open_amount, INVOICES.c.due_date, INVOICES.c.issue_date, INVOICES.c.debtor_id,
                 DEBTORS.c.type.label("debtor_type"), DEBTORS.c.country, CASES.c.id.label("case_id"),
                 CASES.c.policy_version_id, CASES.c.state, DEBTS.c.first_notice_on, DEBTS.c.letter_on,
                 DEBTS.c.interest_to)
          .join(DEBTORS, DEBTORS.c.id == INVOICES.c.debtor_id)
          .join(CASES, CASES.c.invoice_id == INVOICES.c.id)
          .outerjoin(DEBTS, DEBTS.c.invoice_id == INVOICES.c.id)
          .where(INVOICES.c.id.in_(bindparam("ids", expanding=True))))
_LINE_PAYMENTS = (select(LINE_PAYMENTS.c.line_id, LINE_PAYMENTS.c.amount)
                  .join(LINES, LINES.c.id == LINE_PAYMENTS.c.line_id)
                  .where(LINES.c.invoice_id.in_(bindparam("ids", expanding=True))))
_LINES_OF = (select(LINES).where(LINES.c.invoice_id.in_(bindparam("ids", expanding=True)))
             .order_by(LINES.c.booked_on, LINES.c.id))
_COLLECTION_OF = select(COLLECTION).where(COLLECTION.c.invoice_id == bindparam("invoice_id"))
_IGNORING: dict[tuple[str, ...], Any] = {}  # (dialect, table, unique key, returned) → insert … on conflict do nothing
_NOTED: dict[str, Any] = {}  # dialect → the upsert of `note_delivery`


def _ignoring(dialect: str, table: Any, key: str, returning: str | None = None) -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING for `table` (RETURNING `returning` when given), built once per
    dialect; the columns come with the values at execution."""
    cache_key = (dialect, table.name, key, returning or "")
    statement = _IGNORING.get(cache_key)
    if statement is None:
        build: Any = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = build(table).on_conflict_do_nothing(index_elements=[key])
        if returning:
            statement = statement.returning(table.c[returning])
        _IGNORING[cache_key] = statement
    return statement


def _note_delivery(build: Any) -> Any:
    """INSERT the timing row or keep the earlier of each date: `first_notice_on`, and `letter_on` when given."""
    statement = build(DEBTS).values(invoice_id=bindparam("invoice_id"), first_notice_on=bindparam("on", type_=Date),
                                    letter_on=bindparam("letter_on", type_=Date))
    new = statement.excluded
    earlier = case((or_(DEBTS.c.first_notice_on.is_(None), new.first_notice_on < DEBTS.c.first_notice_on),
                    new.first_notice_on), else_=DEBTS.c.first_notice_on)
    letter = case((and_(new.letter_on.is_not(None), or_(DEBTS.c.letter_on.is_(None), new.letter_on < DEBTS.c.letter_on)),
                   new.letter_on), else_=DEBTS.c.letter_on)
    return (statement.on_conflict_do_update(index_elements=["invoice_id"],
                                            set_={"first_notice_on": earlier, "letter_on": letter})
            .returning(DEBTS.c.first_notice_on, DEBTS.c.letter_on))


class DebtRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert_ignoring(self, table: Any, values: dict[str, Any], key: str, returning: str | None = None) -> Any:
        """Insert unless a row with the same unique `key` exists. When this call inserted it: the row's `returning`
        column (default: the key itself, so always true); else None."""
        dialect = self.connection.dialect.name
        column = returning or key
        if dialect not in ("postgresql", "sqlite"):  # pragma: no cover - only SQLite and PostgreSQL are supported
            if self.connection.execute(select(table.c[key]).where(table.c[key] == values[key])).first():
                return None
            self.connection.execute(insert(table).values(**values))
            return self.connection.execute(select(table.c[column]).where(table.c[key] == values[key])).scalar()
        # RETURNING says whether this statement inserted (rowcount is not reliable with implicit returning)
        row = self.connection.execute(_ignoring(dialect, table, key, column), values).first()
        return None if row is None else row[0]

    # --- facts ---------------------------------------------------------------------------------

    def facts(self, invoice_ids: Iterable[int]) -> dict[int, Any]:
        """Per invoice: its amounts and dates, the debtor's type and country, the case's policy version and state,
        and the timing row (first notice, 14-day letter, interest booked to)."""
        found: dict[int, Any] = {}
        for chunk in chunks(sorted(set(invoice_ids))):  # a batch's invoices: kept under the driver's parameter limit
            found.update((row.id, row) for row in self.connection.execute(_FACTS, {"ids": chunk}))
        return found

    def lines_of(self, invoice_ids: Iterable[int]) -> dict[int, list[tuple[Any, Decimal]]]:
        """Per invoice: its charge lines (oldest first) with what is paid of each."""
        ids = sorted(set(invoice_ids))
        found: dict[int, list[tuple[Any, Decimal]]] = {invoice_id: [] for invoice_id in ids}
        for chunk in chunks(ids):  # an invoice's lines all come with its chunk, oldest first
            paid: dict[int, Decimal] = {}
            for line_id, amount in self.connection.execute(_LINE_PAYMENTS, {"ids": chunk}):
                paid[line_id] = paid.get(line_id, Decimal(0)) + amount
            for row in self.connection.execute(_LINES_OF, {"ids": chunk}):
                found[row.invoice_id].append((row, paid.get(row.id, Decimal(0))))
        return found

    def booked_charges(self) -> list[tuple[date, str, str, str, Decimal, str]]:
        """Every booked charge line as (booked_on, invoice number, kind, step, amount, currency), in booking order."""
        query = (select(LINES.c.booked_on, INVOICES.c.number, LINES.c.kind, LINES.c.step, LINES.c.amount,
                        LINES.c.currency)
                 .join(INVOICES, INVOICES.c.id == LINES.c.invoice_id).order_by(LINES.c.booked_on, LINES.c.id))
        return [(row.booked_on, row.number, row.kind, row.step, Decimal(row.amount), row.currency)
                for row in self.connection.execute(query)]

    def invoice_ids_of_cases(self, case_ids: Iterable[int]) -> dict[int, int]:
        """case id → invoice id."""
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        return {row[0]: row[1] for row in self.connection.execute(
            select(CASES.c.id, CASES.c.invoice_id).where(CASES.c.id.in_(ids)))}

    def record_skip(self, values: dict[str, Any]) -> None:
        """An audit entry (`actions`) for a charge that was not booked, once per idempotency key."""
        self.record_skips([values])

    def record_skips(self, rows: list[dict[str, Any]]) -> None:
        """`record_skip` for many entries in one statement (the driver's executemany)."""
        if rows:
            self.connection.execute(_ignoring(self.connection.dialect.name, ACTIONS, "idempotency_key"), rows)

    def skips_of(self, case_id: int) -> list[Any]:
        return list(self.connection.execute(select(ACTIONS).where(ACTIONS.c.case_id == case_id,
                                                                  ACTIONS.c.kind == "charge_skipped")
                                            .order_by(ACTIONS.c.id)))

    # --- booking -------------------------------------------------------------------------------

    def book(self, invoice_id: int, kind: str, step: str, amount: Decimal, currency: str, on: date,
             basis: dict[str, Any], source_key: str, now: datetime) -> int | None:
        """Book a charge line once per `source_key`; its id, or None when it was booked before."""
        values = dict(invoice_id=invoice_id, kind=kind, step=step, amount=amount, currency=currency, booked_on=on,
                      basis=basis, source_key=source_key, recorded_at=now)
        found: int | None = self._insert_ignoring(LINES, values, "source_key", returning="id")
        return found

    def note_delivery(self, invoice_id: int, on: date, letter: bool) -> tuple[date, date | None]:
        """A notice about the invoice was delivered on `on` (`letter`: the 14-day letter): keep the first of each.
        One statement (an upsert that keeps the earlier dates); returns (first_notice_on, letter_on) as now kept."""
        dialect = self.connection.dialect.name
        statement = _NOTED.get(dialect)
        if statement is None:
            statement = _NOTED[dialect] = _note_delivery(pg_insert if dialect == "postgresql" else sqlite_insert)
        row = self.connection.execute(statement, dict(invoice_id=invoice_id, on=on,
                                                      letter_on=on if letter else None)).one()
        return row.first_notice_on, row.letter_on

    def set_interest_to(self, invoice_id: int, day: date) -> None:
        self._insert_ignoring(DEBTS, dict(invoice_id=invoice_id), "invoice_id")
        self.connection.execute(update(DEBTS).where(DEBTS.c.invoice_id == invoice_id).values(interest_to=day))

    def pay_line(self, line_id: int, payment_id: int | None, amount: Decimal, on: date) -> None:
        self.connection.execute(insert(LINE_PAYMENTS).values(line_id=line_id, payment_id=payment_id, amount=amount,
                                                             on=on))

    def line_payments_of(self, payment_id: int, invoice_id: int) -> list[Any]:
        """What `payment_id` gave the invoice's lines (negative rows: given back), in the order it was given."""
        return list(self.connection.execute(
            select(LINE_PAYMENTS.c.line_id, LINE_PAYMENTS.c.amount, LINES.c.kind)
            .join(LINES, LINES.c.id == LINE_PAYMENTS.c.line_id)
            .where(LINE_PAYMENTS.c.payment_id == payment_id, LINES.c.invoice_id == invoice_id)
            .order_by(LINE_PAYMENTS.c.id)))

    # --- collection ----------------------------------------------------------------------------

    def hand_over(self, invoice_id: int, agency: str, on: date) -> bool:
        """Mark the invoice `in_collection` with `agency`; False when it was handed over before."""
        existing = self.connection.execute(_COLLECTION_OF, {"invoice_id": invoice_id}).first()
        if existing is not None:
            if existing.status == "in_collection":
                return False
            self.connection.execute(update(COLLECTION).where(COLLECTION.c.id == existing.id).values(
                agency=agency, status="in_collection", handed_on=on, recalled_on=None, recall_reason="",
                exported_at=None))
            return True
        inserted = self._insert_ignoring(COLLECTION, dict(invoice_id=invoice_id, agency=agency, status="in_collection",
                                                          handed_on=on, recall_reason=""), "invoice_id")
        return inserted is not None

    def collection_of(self, invoice_id: int) -> Any:
        return self.connection.execute(select(COLLECTION).where(COLLECTION.c.invoice_id == invoice_id)).first()

    def collection_cases(self, status: str | None = None, agency: str | None = None) -> list[Any]:
        query = (select(COLLECTION, INVOICES.c.number, INVOICES.c.debtor_id, INVOICES.c.currency,
                        DEBTORS.c.code.label("debtor_code"))
                 .join(INVOICES, INVOICES.c.id == COLLECTION.c.invoice_id)
                 .join(DEBTORS, DEBTORS.c.id == INVOICES.c.debtor_id))
        if status is not None:
            query = query.where(COLLECTION.c.status == status)
        if agency is not None:
            query = query.where(COLLECTION.c.agency == agency)
        return list(self.connection.execute(query.order_by(DEBTORS.c.code, INVOICES.c.number)))

    def recall(self, collection_id: int, on: date, reason: str) -> None:
        self.connection.execute(update(COLLECTION).where(COLLECTION.c.id == collection_id).values(
            status="recalled", recalled_on=on, recall_reason=reason))

    def mark_exported(self, collection_id: int, now: datetime) -> None:
        self.connection.execute(update(COLLECTION).where(COLLECTION.c.id == collection_id).values(exported_at=now))

    def reported_allocations(self, collection_id: int) -> set[int]:
        return set(self.connection.execute(select(REPORTED.c.allocation_id)
                                           .where(REPORTED.c.collection_case_id == collection_id)).scalars())

    def mark_reported(self, collection_id: int, allocation_ids: Iterable[int], now: datetime) -> None:
        rows = [dict(collection_case_id=collection_id, allocation_id=a, reported_at=now) for a in allocation_ids]
        if rows:
            self.connection.execute(insert(REPORTED), rows)

    def charge_parts(self) -> list[tuple[int, date, Decimal]]:
        """(invoice id, day, amount) of every part of a payment that went to a charge line (negative: given back)."""
        rows = self.connection.execute(
            select(LINES.c.invoice_id, LINE_PAYMENTS.c.on, LINE_PAYMENTS.c.amount)
            .join(LINES, LINES.c.id == LINE_PAYMENTS.c.line_id).order_by(LINE_PAYMENTS.c.on, LINE_PAYMENTS.c.id))
        return [(invoice, on, amount) for invoice, on, amount in rows]

    def promises_of(self, invoice_id: int) -> list[Any]:
        return list(self.connection.execute(select(PROMISES).where(PROMISES.c.invoice_id == invoice_id)
                                            .order_by(PROMISES.c.id)))

    def debtor(self, debtor_id: int) -> Any:
        return self.connection.execute(select(DEBTORS).where(DEBTORS.c.id == debtor_id)).one()

    def allocations_of_invoice(self, invoice_id: int) -> list[Any]:
        return list(self.connection.execute(select(ALLOCATIONS).where(ALLOCATIONS.c.invoice_id == invoice_id)
                                            .order_by(ALLOCATIONS.c.id)))
