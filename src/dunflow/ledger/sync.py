"""The ERP's open items kept in sync: `dunflow import invoices --sync FILE [--full]`.

The ERP is the source of truth for what is open. Its daily export is compared with dunflow's
invoices, and each difference becomes an event on the case, in the audit trail: a lower open amount
is applied like a payment (pay or settle), a higher one re-opens a paid invoice where its dunning
stood (a payment reversed in the ERP), `cancelled`/`draft` cancel the case. With `--full` the file
lists every open item, so an invoice missing from it was closed in the ERP. A row whose currency or
debtor differs from the stored invoice is refused: that is another invoice under a reused number,
and syncing it would dun the wrong debtor. Like every import, the whole file is checked first, and
any problem leaves the database unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from dunflow.domain.policy import CANCELLED, FINAL_STATES
from dunflow.errors import InputProblems, Problem
from dunflow.events import firing as events
from dunflow.formats import tables as t
from dunflow.ledger import invoices as inv
from dunflow.ledger.allocation import _record_partial, apply_amount
from dunflow.ledger.payments import reopen_invoice
from dunflow.policy.validate import PolicySet
from dunflow.store.uow import UnitOfWork

STATUSES = ("open", "paid", "cancelled", "credited", "draft")
CLOSED_BY_STATUS = {"paid", "credited"}


@dataclass
class SyncReport:
    created: int = 0
    reduced: int = 0
    reopened: int = 0
    cancelled: int = 0
    closed_missing: int = 0
    unchanged: int = 0
    drafts_skipped: int = 0


@dataclass(frozen=True)
class _Item:
    invoice: Any  # ledger.invoices._InvoiceRow
    status: str


def sync_invoices(uow: UnitOfWork, path: Path, policies: PolicySet, version_ids: dict[str, int], *,
                  full: bool, on: date, actor: str, fmt: str | None = None) -> SyncReport:
    """Bring dunflow's invoices in line with the ERP's export; every change is an audited case event."""
    table = t.read_table(path, fmt)
    problems = t.require_columns(table, inv.INVOICE_REQUIRED)
    if problems:
        raise InputProblems(problems)
    rows, new_debtors = inv._parse_invoices(table, problems)
    items = [_Item(row, _status(row.row, problems)) for row in rows]
    debtors = uow.invoices.debtors_by_code(sorted({i.invoice.debtor_code for i in items}))
    existing = uow.invoices.by_number([i.invoice.number for i in items])
    for item in items:
        if item.invoice.number in existing:
            _check_same_invoice(item, existing[item.invoice.number], debtors, problems)
    report = SyncReport()
    fresh = [i.invoice for i in items if i.invoice.number not in existing and i.status == "open"]
    report.drafts_skipped = sum(i.invoice.number not in existing and i.status == "draft" for i in items)
    fresh = inv._check_invoices(fresh, debtors, new_debtors, {}, problems)
    if problems:
        raise InputProblems(problems)
    report.created = _create(uow, fresh, debtors, new_debtors, policies, version_ids, on)
    why = f"ERP sync ({Path(path).name})"
    for item in items:
        if item.invoice.number in existing:
            _sync_one(uow, item, existing[item.invoice.number], on, why, actor, report)
    if full:
        listed = {item.invoice.number for item in items}
        report.closed_missing = _close_missing(uow, listed, on, why, actor)
    return report


def _status(row: t.Row, problems: list[Problem]) -> str:
    return t.parse_choice(row, "status", STATUSES, problems, optional=True) or "open"


def _check_same_invoice(item: _Item, stored: Any, debtors: dict[str, Any], problems: list[Problem]) -> None:
    """Refuse a row that is another invoice under the same number: other currency or other debtor."""
    row, invoice = item.invoice.row, item.invoice
    debtor = debtors.get(invoice.debtor_code)
    if invoice.currency != stored.currency:
        problems.append(Problem(row.file, row.line, row.col("currency"),
                                f"invoice '{invoice.number}' is in {stored.currency}, the ERP now says "
                                f"{invoice.currency}", "a currency never changes; cancel it and issue a new invoice",
                                "sync/changed-currency"))
    if debtor is None or debtor.id != stored.debtor_id:
        problems.append(Problem(row.file, row.line, row.col("debtor_code"),
                                f"invoice '{invoice.number}' belongs to another debtor than '{invoice.debtor_code}'",
                                "the debtor of an invoice never changes; cancel it and issue a new invoice",
                                "sync/changed-debtor"))


def _create(uow: UnitOfWork, fresh: list[Any], debtors: dict[str, Any], new_debtors: dict[str, Any],
            policies: PolicySet, version_ids: dict[str, int], on: date) -> int:
    """New open items become invoices with dunning cases, exactly as in a plain import."""
    problems: list[Problem] = []
    to_create = {code: values for code, values in new_debtors.items() if code not in debtors}
    if to_create:
        inv._upsert_debtors(uow, to_create)
        debtors.update(uow.invoices.debtors_by_code(list(to_create)))
    inv._insert_invoices(uow, fresh, debtors, policies, version_ids, problems)
    if problems:
        raise InputProblems(problems)
    inv._hold_new_invoices_of_held_debtors(uow, fresh, debtors, on)
    return len(fresh)


def _sync_one(uow: UnitOfWork, item: _Item, stored: Any, on: date, why: str, actor: str,
              report: SyncReport) -> None:
    """One known invoice: cancel, reduce (pay/settle) or re-open to the ERP's open amount."""
    case = events.case_by_invoice_id(uow, stored.id)
    if item.status in ("cancelled", "draft"):
        if case.state not in FINAL_STATES:
            events.fire(uow, case, "cancel", on=on, rule=f"{why}: {item.status} in the ERP", actor=actor)
            report.cancelled += 1
        else:
            report.unchanged += 1
        return
    target = Decimal(0) if item.status in CLOSED_BY_STATUS and not item.invoice.row.get("open_amount") \
        else item.invoice.open_amount
    if item.invoice.amount != stored.amount:
        uow.invoices.set_amount(stored.id, item.invoice.amount)
        _record_partial(uow, case, on, f"{why}: amount {stored.amount} → {item.invoice.amount} "
                        f"{case.currency} in the ERP", actor)  # an audit entry; the state follows below
        case = events.case_by_invoice_id(uow, stored.id)
    if target < case.open_amount:
        apply_amount(uow, stored.id, case.open_amount - target, on=on,
                     why=f"{why}: {item.status}, {target} {case.currency} open in the ERP", actor=actor)
        report.reduced += 1
    elif target > case.open_amount and case.state != CANCELLED:
        reopen_invoice(uow, stored.id, target - case.open_amount, on=on,
                       why=f"{why}: {target} {case.currency} open in the ERP", actor=actor)
        report.reopened += 1
    else:
        report.unchanged += 1


def _close_missing(uow: UnitOfWork, listed: set[str], on: date, why: str, actor: str) -> int:
    """A full export lists every open item: an invoice still open here but missing there was closed in the ERP."""
    rows = uow.invoices.open_amounts_of_cases_not_in(tuple(FINAL_STATES))
    closed = 0
    for row in sorted(rows, key=lambda r: r.number):
        if row.number not in listed and row.open_amount > 0:
            apply_amount(uow, row.id, row.open_amount, on=on,
                         why=f"{why}: not in the full open-items export, closed in the ERP", actor=actor)
            closed += 1
    return closed
