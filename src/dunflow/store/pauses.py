"""Pauses of dunning: holds, promises, disputes and arrangements with their installments."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from dunflow.store.ledger import chunks
from dunflow.store.orm import (
    Arrangement,
    ArrangementInvoice,
    Case,
    Dispute,
    Hold,
    Installment,
    Invoice,
    Promise,
    table_of,
)

HOLDS, PROMISES, DISPUTES = table_of(Hold), table_of(Promise), table_of(Dispute)
ARRANGEMENTS, LINKS, INSTALLMENTS = table_of(Arrangement), table_of(ArrangementInvoice), table_of(Installment)
INVOICES, CASES = table_of(Invoice), table_of(Case)
_KEEP_PROMISES = (update(PROMISES).where(PROMISES.c.invoice_id == bindparam("invoice_id_"), PROMISES.c.status == "open")
                  .values(status="kept"))  # once per payment: built once
EFFECT_TABLES = {"promises": PROMISES, "installments": INSTALLMENTS, "arrangements": ARRANGEMENTS}


class PauseRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # --- holds ------------------------------------------------------------------------------------

    def holds_in_force(self, debtor_ids: list[int], on: date) -> dict[int, list[Any]]:
        """Debtor id → its unreleased holds that have not ended by `on`, oldest first (one query per 500)."""
        found: dict[int, list[Any]] = {}
        for chunk in chunks(debtor_ids):
            for row in self.connection.execute(select(HOLDS).where(
                    HOLDS.c.debtor_id.in_(chunk), HOLDS.c.released_on.is_(None),
                    or_(HOLDS.c.until.is_(None), HOLDS.c.until > on)).order_by(HOLDS.c.id)):
                found.setdefault(row.debtor_id, []).append(row)
        return found

    def debtors_on_hold(self, debtor_ids: list[int], on: date) -> set[int]:
        held: set[int] = set()
        for chunk in chunks(debtor_ids):
            held.update(self.connection.execute(select(HOLDS.c.debtor_id).where(
                HOLDS.c.debtor_id.in_(chunk), HOLDS.c.released_on.is_(None),
                or_(HOLDS.c.until.is_(None), HOLDS.c.until > on))).scalars())
        return held

    def add_hold(self, debtor_id: int, until: date | None, reason: str, on: date, actor: str) -> None:
        self.connection.execute(insert(HOLDS).values(debtor_id=debtor_id, until=until, reason=reason, placed_on=on,
                                                     placed_by=actor))

    def release_holds(self, debtor_id: int, on: date) -> int:
        return int(self.connection.execute(update(HOLDS).where(
            HOLDS.c.debtor_id == debtor_id, HOLDS.c.released_on.is_(None)).values(released_on=on)).rowcount)

    # --- promises ---------------------------------------------------------------------------------

    def add_promise(self, invoice_id: int, pay_by: date, amount: Decimal | None, on: date, actor: str) -> None:
        """A new open promise; an earlier open one of the invoice is replaced."""
        self.connection.execute(update(PROMISES).where(PROMISES.c.invoice_id == invoice_id,
                                                       PROMISES.c.status == "open").values(status="replaced"))
        self.connection.execute(insert(PROMISES).values(invoice_id=invoice_id, pay_by=pay_by, amount=amount,
                                                        made_on=on, made_by=actor, status="open"))

    def open_promises(self, invoice_ids: list[int]) -> list[Any]:
        return list(self.connection.execute(select(PROMISES).where(PROMISES.c.invoice_id.in_(invoice_ids),
                                                                   PROMISES.c.status == "open")))

    def keep_promises(self, invoice_id: int) -> None:
        self.connection.execute(_KEEP_PROMISES, {"invoice_id_": invoice_id})

    # --- disputes ---------------------------------------------------------------------------------

    def open_dispute(self, invoice_id: int, reason: str, on: date, actor: str) -> None:
        self.connection.execute(insert(DISPUTES).values(invoice_id=invoice_id, reason=reason, opened_on=on,
                                                        opened_by=actor))

    def resolve_dispute(self, invoice_id: int, on: date, resolution: str, note: str) -> None:
        self.connection.execute(update(DISPUTES).where(DISPUTES.c.invoice_id == invoice_id,
                                                       DISPUTES.c.resolved_on.is_(None))
                                .values(resolved_on=on, resolution=resolution, note=note))

    def disputes(self, invoice_id: int) -> list[dict[str, object]]:
        rows = self.connection.execute(select(DISPUTES).where(DISPUTES.c.invoice_id == invoice_id)
                                       .order_by(DISPUTES.c.id))
        return [dict(r._mapping) for r in rows]

    # --- arrangements -----------------------------------------------------------------------------

    def add_arrangement(self, values: dict[str, Any], installments: list[dict[str, Any]],
                        invoice_ids: list[int]) -> int:
        """The arrangement, its installments (numbered from 1) and its invoices; its id."""
        arrangement_id = int(self.connection.execute(insert(ARRANGEMENTS).values(**values)
                                                     .returning(ARRANGEMENTS.c.id)).scalar_one())
        self.connection.execute(insert(INSTALLMENTS), [dict(arrangement_id=arrangement_id, **i) for i in installments])
        self.connection.execute(insert(LINKS), [dict(arrangement_id=arrangement_id, invoice_id=i) for i in invoice_ids])
        return arrangement_id

    def active_arrangements(self, invoice_ids: list[int]) -> list[tuple[int, int]]:
        """(invoice id, arrangement id) of the invoices' active arrangements."""
        return [(row[0], row[1]) for row in self.connection.execute(
            select(LINKS.c.invoice_id, LINKS.c.arrangement_id)
            .join(ARRANGEMENTS, ARRANGEMENTS.c.id == LINKS.c.arrangement_id)
            .where(LINKS.c.invoice_id.in_(invoice_ids), ARRANGEMENTS.c.status == "active"))]

    def arrangement_paid_from(self, invoice_id: int) -> int | None:
        """The invoice's newest arrangement that payments can have paid into (active or completed), if any."""
        return self.connection.execute(
            select(ARRANGEMENTS.c.id).join(LINKS, LINKS.c.arrangement_id == ARRANGEMENTS.c.id)
            .where(LINKS.c.invoice_id == invoice_id, ARRANGEMENTS.c.status.in_(("active", "completed")))
            .order_by(ARRANGEMENTS.c.id.desc()).limit(1)).scalar()

    def reactivate(self, arrangement_id: int) -> None:
        self.connection.execute(update(ARRANGEMENTS).where(ARRANGEMENTS.c.id == arrangement_id)
                                .values(status="active"))

    def arrangement(self, arrangement_id: int) -> Any:
        return self.connection.execute(select(ARRANGEMENTS).where(ARRANGEMENTS.c.id == arrangement_id)).first()

    def first_invoice_in(self, arrangement_id: int, state: str) -> int | None:
        """The lowest invoice id of the arrangement whose case is still in `state`."""
        found: int | None = self.connection.execute(
            select(LINKS.c.invoice_id).join(CASES, CASES.c.invoice_id == LINKS.c.invoice_id)
            .where(LINKS.c.arrangement_id == arrangement_id, CASES.c.state == state)
            .order_by(LINKS.c.invoice_id)).scalars().first()
        return found

    def installments(self, arrangement_id: int) -> list[Any]:
        return list(self.connection.execute(select(INSTALLMENTS).where(INSTALLMENTS.c.arrangement_id == arrangement_id)
                                            .order_by(INSTALLMENTS.c.number)))

    def pay_installment(self, installment_id: int, paid: Decimal, status: str) -> None:
        self.connection.execute(update(INSTALLMENTS).where(INSTALLMENTS.c.id == installment_id)
                                .values(paid=paid, status=status))

    def invoices_of(self, arrangement_id: int) -> list[Any]:
        """(number, open_amount) of the arrangement's invoices, by number."""
        return list(self.connection.execute(
            select(INVOICES.c.number, INVOICES.c.open_amount).join(LINKS, LINKS.c.invoice_id == INVOICES.c.id)
            .where(LINKS.c.arrangement_id == arrangement_id).order_by(INVOICES.c.number)))

    def complete(self, arrangement_id: int) -> None:
        self.connection.execute(update(ARRANGEMENTS).where(ARRANGEMENTS.c.id == arrangement_id)
                                .values(status="completed"))

    # --- the runner's effects -------------------------------------------------------------------------

    def apply_effects(self, effects: list[tuple[str, int, dict[str, object]]]) -> None:
        """Timer effects (a promise broken, an installment missed), each distinct (table, id) once."""
        seen: set[tuple[str, int]] = set()
        for table, row_id, values in effects:
            if (table, row_id) in seen:
                continue
            seen.add((table, row_id))
            target = EFFECT_TABLES[table]
            self.connection.execute(update(target).where(target.c.id == row_id).values(**values))
