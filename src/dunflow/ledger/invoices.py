"""Imports of debtors and invoices: validate the whole file, then write it in one transaction.

Every row is checked before anything is written; any problem aborts the import
with all problems listed and the database untouched. Each new invoice gets its
dunning case under the policy that wins for its debtor, scheduled for the
policy's first step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from stdnum import iban

from dunflow.domain.policy import NEW, DebtorFacts
from dunflow.domain.schedule import planned_date
from dunflow.errors import InputProblems, Problem
from dunflow.events.holds import active_hold, debtors_on_hold, hold_case
from dunflow.formats import tables as t
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import business_days, choose_policy
from dunflow.store.uow import UnitOfWork

DEBTOR_COLUMNS = ("code", "name", "type", "country", "language", "email", "phone", "address", "postal_code", "city",
                  "tags")
INVOICE_REQUIRED = ("number", "debtor_code", "currency", "amount", "issue_date", "due_date")
CUSTOMER_TYPES = ("business", "consumer")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    debtors_created: int = 0
    drafts: int = 0


def _country(row: t.Row, column: str, problems: list[Problem], optional: bool = False) -> str | None:
    value = row.get(column).upper()
    if not value and optional:
        return None
    if len(value) != 2 or not value.isalpha():
        problems.append(Problem(row.file, row.line, row.col(column),
                                f"{column} '{row.get(column)}' is not an ISO 3166 alpha-2 country code",
                                "write two letters, e.g. DE, NL, AT, GB", "bad-country"))
        return None
    return value


def _debtor_values(row: t.Row, problems: list[Problem], prefix: str = "") -> dict[str, Any] | None:
    """Debtor fields from a row (`prefix` is 'debtor_' inside an invoices file)."""
    before = len(problems)
    code = t.required(row, "code" if not prefix else "debtor_code", problems)
    name = t.required(row, f"{prefix}name", problems)
    kind = t.parse_choice(row, f"{prefix}type", CUSTOMER_TYPES, problems)
    country = _country(row, f"{prefix}country", problems)
    if len(problems) > before:
        return None
    values: dict[str, Any] = {c: row.get(f"{prefix}{c}") for c in DEBTOR_COLUMNS}
    values.update(code=code, name=name, type=kind, country=country, language=row.get(f"{prefix}language").lower())
    values["tags"] = ";".join(sorted({tag.strip() for tag in values["tags"].split(";") if tag.strip()}))
    values["credit_rating"] = row.get(f"{prefix}credit_rating")
    return values


def import_debtors(uow: UnitOfWork, path: Path, fmt: str | None = None) -> ImportReport:
    table = t.read_table(path, fmt)
    problems = t.require_columns(table, ("code", "name", "type", "country"))
    if problems:
        raise InputProblems(problems)
    rows: dict[str, dict[str, Any]] = {}
    ibans: dict[str, list[str]] = {}
    for row in table.rows:
        values = _debtor_values(row, problems)
        if values is not None and values["code"] in rows:
            problems.append(Problem(row.file, row.line, row.col("code"), f"debtor code '{values['code']}' appears twice",
                                    "each debtor once per file", "duplicate-row"))
        elif values is not None:
            rows[values["code"]] = values
            ibans[values["code"]] = _ibans(row, problems)
    if problems:
        raise InputProblems(problems)
    report = _upsert_debtors(uow, rows)
    _store_ibans(uow, ibans)
    return report


def _ibans(row: t.Row, problems: list[Problem]) -> list[str]:
    """The optional `iban` column: the accounts a debtor pays from (several separated by ';'), checked."""
    found = []
    for text in row.get("iban").split(";"):
        compact = iban.compact(text)
        if compact and not iban.is_valid(compact):
            problems.append(Problem(row.file, row.line, row.col("iban"), f"'{text.strip()}' is not a valid IBAN",
                                    "check the IBAN; several are separated by ';'", "bad-iban"))
        elif compact:
            found.append(compact)
    return found


def _store_ibans(uow: UnitOfWork, ibans: dict[str, list[str]]) -> None:
    """Known IBANs let a payment without a usable reference still find its debtor (see ledger.payments)."""
    from dunflow.ledger.payments import (
        learn_iban,  # late: payments builds on this module
    )

    debtors = uow.invoices.debtors_by_code([code for code, found in ibans.items() if found])
    for code, found in ibans.items():
        for account in found:
            learn_iban(uow, debtors[code].id, account, "debtor import")


def _upsert_debtors(uow: UnitOfWork, rows: dict[str, dict[str, Any]]) -> ImportReport:
    report = ImportReport()
    existing = uow.invoices.debtors_by_code(list(rows))
    new = [values for code, values in rows.items() if code not in existing]
    uow.invoices.add_debtors(new)
    report.created = len(new)
    for code, values in rows.items():
        if code in existing:
            current = existing[code]
            if all(str(current._mapping[k] or "") == str(v or "") for k, v in values.items()):
                report.unchanged += 1
            else:
                uow.invoices.update_debtor(code, values)
                report.updated += 1
    return report


@dataclass(frozen=True)
class _InvoiceRow:
    row: t.Row
    number: str
    debtor_code: str
    currency: str
    amount: Decimal
    open_amount: Decimal
    issue_date: date
    due_date: date
    email: str = ""


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _invoice_email(row: t.Row, problems: list[Problem]) -> str:
    """The invoice's own e-mail contact (optional column `email`): its notices go there, not to the debtor's."""
    email = row.get("email").strip()
    if email and not EMAIL.fullmatch(email):
        problems.append(Problem(row.file, row.line, row.col("email"), f"email '{email}' is not an e-mail address",
                                "write one address like ap@example.com, or leave it empty for the debtor's",
                                "bad-email"))
    return email


def _invoice(row: t.Row, problems: list[Problem]) -> _InvoiceRow | None:
    before = len(problems)
    number = t.required(row, "number", problems)
    debtor_code = t.required(row, "debtor_code", problems)
    money = t.parse_money(row, "amount", "currency", problems)
    open_amount = t.parse_decimal(row, "open_amount", problems, optional=True)
    issue = t.parse_date(row, "issue_date", problems)
    due = t.parse_date(row, "due_date", problems)
    email = _invoice_email(row, problems)
    if len(problems) > before or money is None:
        return None
    amount, currency = money
    open_amount = amount if open_amount is None else open_amount
    if open_amount > amount:
        problems.append(Problem(row.file, row.line, row.col("open_amount"),
                                f"open_amount {open_amount} is larger than amount {amount}",
                                "the open amount is what is still unpaid of the invoice", "bad-amount"))
    if due < issue:  # type: ignore[operator]
        problems.append(Problem(row.file, row.line, row.col("due_date"), f"due_date {due} is before issue_date {issue}",
                                "check the two dates", "bad-date"))
    if len(problems) > before:
        return None
    return _InvoiceRow(row, number, debtor_code, currency, amount, open_amount, issue, due,  # type: ignore[arg-type]
                       email)


def import_invoices(uow: UnitOfWork, path: Path, policies: PolicySet, version_ids: dict[str, int],
                    on: date, fmt: str | None = None) -> ImportReport:
    """Import the file's new invoices; `on` is the import's date (a debtor on hold then holds them too)."""
    table = t.read_table(path, fmt)
    problems = t.require_columns(table, INVOICE_REQUIRED)
    if problems:
        raise InputProblems(problems)
    invoices, new_debtors = _parse_invoices(table, problems)
    drafts = [i for i in invoices if i.row.get("status").lower() == "draft"]  # an ERP draft is not owed yet
    invoices = [i for i in invoices if i not in drafts]
    debtors = uow.invoices.debtors_by_code(sorted({i.debtor_code for i in invoices}))
    existing = uow.invoices.by_number([i.number for i in invoices])
    fresh = _check_invoices(invoices, debtors, new_debtors, existing, problems)
    if problems:
        raise InputProblems(problems)
    report = ImportReport(unchanged=len(invoices) - len(fresh), drafts=len(drafts))
    to_create = {code: values for code, values in new_debtors.items() if code not in debtors}
    if to_create:
        report.debtors_created = _upsert_debtors(uow, to_create).created
        debtors.update(uow.invoices.debtors_by_code(list(to_create)))
    _insert_invoices(uow, fresh, debtors, policies, version_ids, problems)
    if problems:
        raise InputProblems(problems)
    _hold_new_invoices_of_held_debtors(uow, fresh, debtors, on)
    report.created = len(fresh)
    return report


def _hold_new_invoices_of_held_debtors(uow: UnitOfWork, fresh: list[_InvoiceRow], debtors: dict[str, Any],
                                       on: date) -> None:
    """A debtor on hold stays on hold for invoices that arrive later."""
    held = debtors_on_hold(uow, [debtors[code].id for code in {i.debtor_code for i in fresh}], on)
    for code in sorted(c for c in {i.debtor_code for i in fresh} if debtors[c].id in held):
        hold = active_hold(uow, debtors[code].id, on)
        if hold is None:
            continue
        numbers = [i.number for i in fresh if i.debtor_code == code]
        for invoice in uow.invoices.by_number(numbers).values():
            hold_case(uow, invoice.id, hold, on, "import")


def _parse_invoices(table: t.Table, problems: list[Problem]) -> tuple[list[_InvoiceRow], dict[str, dict[str, Any]]]:
    invoices: list[_InvoiceRow] = []
    new_debtors: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for row in table.rows:
        invoice = _invoice(row, problems)
        if invoice is None:
            continue
        if invoice.number in seen:
            problems.append(Problem(row.file, row.line, row.col("number"),
                                    f"invoice '{invoice.number}' appears twice (first on line {seen[invoice.number]})",
                                    "each invoice once per file", "duplicate-row"))
            continue
        seen[invoice.number] = row.line
        invoices.append(invoice)
        if row.get("debtor_name") and invoice.debtor_code not in new_debtors:
            values = _debtor_values(row, problems, prefix="debtor_")
            if values is not None:
                new_debtors[invoice.debtor_code] = values
    return invoices, new_debtors


def _check_invoices(invoices: list[_InvoiceRow], debtors: dict[str, Any], new_debtors: dict[str, Any],
                    existing: dict[str, Any], problems: list[Problem]) -> list[_InvoiceRow]:
    """Unknown debtors are errors; an invoice already imported unchanged is skipped, changed is an error."""
    fresh: list[_InvoiceRow] = []
    for invoice in invoices:
        row = invoice.row
        if invoice.debtor_code not in debtors and invoice.debtor_code not in new_debtors:
            problems.append(Problem(row.file, row.line, row.col("debtor_code"),
                                    f"unknown debtor '{invoice.debtor_code}'",
                                    "import the debtors first, or add debtor_name, debtor_type and debtor_country "
                                    "columns", "unknown-debtor"))
        elif invoice.number in existing:
            old = existing[invoice.number]
            if (old.amount, old.currency, old.due_date) != (invoice.amount, invoice.currency, invoice.due_date):
                problems.append(Problem(row.file, row.line, row.col("number"),
                                        f"invoice '{invoice.number}' was already imported with other values",
                                        "invoices are not overwritten; record payments or credit notes instead",
                                        "changed-invoice"))
        else:
            fresh.append(invoice)
    return fresh


def _insert_invoices(uow: UnitOfWork, fresh: list[_InvoiceRow], debtors: dict[str, Any], policies: PolicySet,
                     version_ids: dict[str, int], problems: list[Problem]) -> None:
    if not fresh:
        return
    uow.invoices.add([
        dict(number=i.number, debtor_id=debtors[i.debtor_code].id, currency=i.currency, amount=i.amount,
             open_amount=i.open_amount, issue_date=i.issue_date, due_date=i.due_date, email=i.email or None)
        for i in fresh])
    ids = {number: row.id for number, row in uow.invoices.by_number([i.number for i in fresh]).items()}
    cases = []
    for invoice in fresh:
        case = _new_case(invoice, debtors[invoice.debtor_code], ids[invoice.number], policies, version_ids, problems)
        if case is not None:
            cases.append(case)
    if not problems:
        uow.cases.add(cases)


def _new_case(invoice: _InvoiceRow, debtor: Any, invoice_id: int, policies: PolicySet, version_ids: dict[str, int],
              problems: list[Problem]) -> dict[str, Any] | None:
    facts = DebtorFacts(debtor.type, debtor.country, frozenset(t for t in debtor.tags.split(";") if t),
                        debtor.credit_rating)
    policy = choose_policy(policies.policies, facts, invoice.amount)
    if policy is None:
        problems.append(Problem(invoice.row.file, invoice.row.line, invoice.row.col("debtor_code"),
                                f"no policy applies to debtor '{debtor.code}' ({debtor.type}, {debtor.country})",
                                "add a catch-all policy (match: {}) or widen a policy's match", "no-policy"))
        return None
    first = planned_date(policy, 0, invoice.due_date, None, business_days(policy.settings.calendar),
                         issue_date=invoice.issue_date) \
        if policy.dunned else None  # a segment not dunned: tracked, never due
    return dict(invoice_id=invoice_id, debtor_id=debtor.id, policy_version_id=version_ids[policy.name], state=NEW,
                resume_state=None, last_step_on=None, next_action_at=first, revision=0)
