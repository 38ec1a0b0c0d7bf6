"""Imports of debtors and invoices: validate the whole file, then write it in one transaction.

Every row is checked before anything is written; any problem aborts the import
with all problems listed and the database untouched. Each new invoice gets its
dunning case under the policy that wins for its debtor, scheduled for the
policy's first step.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from itertools import islice
from typing import Any, Callable, Iterator

from stdnum import iban

from dunflow.domain.policy import NEW, DebtorFacts
from dunflow.domain.schedule import planned_date
from dunflow.errors import InputProblems, Problem
from dunflow.events.holds import active_hold, debtors_on_hold, hold_case
from dunflow.formats import tables as t
from dunflow.ledger import fields
from dunflow.policy.validate import PolicySet
from dunflow.policy.versions import business_days, choose_policy
from dunflow.store.limits import DEBTOR_LENGTHS, INVOICE_LENGTHS
from dunflow.store.uow import UnitOfWork

DEBTOR_COLUMNS = ("code", "name", "type", "country", "language", "email", "phone", "address", "postal_code", "city",
                  "tags")
INVOICE_REQUIRED = ("number", "debtor_code", "currency", "amount", "issue_date", "due_date")
CUSTOMER_TYPES = ("business", "consumer")
CHUNK_ROWS = 5_000  # rows validated and written together: memory stays flat, statements stay few
MAX_PROBLEMS = 1_000  # a wholly wrong file is reported by its first thousand mistakes, not a million
DEBTOR_STORED = (*DEBTOR_COLUMNS, "credit_rating")
INVOICE_STORED = ("id", "number", "debtor_id", "currency", "amount", "open_amount", "issue_date", "due_date", "email")
CASE_STORED = ("invoice_id", "debtor_id", "policy_version_id", "state", "next_action_at", "revision")
DEBTOR_TEXT = {c: DEBTOR_LENGTHS[c] for c in ("code", "name", "phone", "address", "postal_code", "city", "tags",
                                              "credit_rating")}  # type, country, language, email: checked by form
INVOICE_TEXT = {"number": INVOICE_LENGTHS["number"], "debtor_code": DEBTOR_LENGTHS["code"]}


Progress = Callable[[int, int], None]


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
    language = fields.language_code(row, f"{prefix}language", problems)
    fields.email_address(row, f"{prefix}email", problems)
    fields.refuse_too_long(row, DEBTOR_TEXT, problems, prefix)
    if prefix:  # the code column of an invoices file is `debtor_code`, checked with the invoice
        fields.refuse_too_long(row, {"credit_rating": DEBTOR_LENGTHS["credit_rating"]}, problems, prefix)
    if len(problems) > before:
        return None
    values: dict[str, Any] = {c: row.get(f"{prefix}{c}") for c in DEBTOR_COLUMNS}
    values.update(code=code, name=name, type=kind, country=country, language=language)
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
        if fields.refuse_control_characters(row, problems):
            continue
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


def _invoice_email(row: t.Row, problems: list[Problem]) -> str:
    """The invoice's own e-mail contact (optional column `email`): its notices go there, not to the debtor's."""
    return fields.email_address(row, "email", problems)


def _invoice(row: t.Row, problems: list[Problem]) -> _InvoiceRow | None:
    before = len(problems)
    number = t.required(row, "number", problems)
    debtor_code = t.required(row, "debtor_code", problems)
    money = t.parse_money(row, "amount", "currency", problems)
    open_amount = t.parse_decimal(row, "open_amount", problems, optional=True)
    issue = t.parse_date(row, "issue_date", problems)
    due = t.parse_date(row, "due_date", problems)
    email = _invoice_email(row, problems)
    fields.refuse_too_long(row, INVOICE_TEXT, problems)
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
                    on: date, fmt: str | None = None, progress: Progress | None = None) -> ImportReport:
    """Import the file's new invoices; `on` is the import's date (a debtor on hold then holds them too).

    The file is streamed in chunks of CHUNK_ROWS: each chunk is validated, then written with the
    drivers' bulk paths (ids reserved up front, so invoices and their cases go out in one pass and
    nothing is read back). Writing stops at the first problem but validation goes on, so the user
    sees every mistake (up to MAX_PROBLEMS); any problem raises and the unit of work rolls the whole
    import back. `progress(rows done, rows estimated)` is called after each chunk.
    """
    with t.open_table(path, fmt) as table:
        problems = t.require_columns(table, INVOICE_REQUIRED)
        if problems:
            raise InputProblems(problems)
        intake = _Intake(uow, policies, version_ids, on)
        for chunk in _chunks(table.rows, CHUNK_ROWS):
            intake.take(chunk)
            if progress is not None:
                progress(intake.rows, max(table.total or 0, intake.rows))
            if len(intake.problems) >= MAX_PROBLEMS:
                intake.problems.append(Problem(table.file, chunk[-1].line, 0, f"stopped after {MAX_PROBLEMS} "
                                               "problems", "fix these and import again", "input/too-many-problems"))
                break
    if intake.problems:
        raise InputProblems(intake.problems)
    return intake.report


def _chunks(rows: Iterator[t.Row], size: int) -> Iterator[tuple[t.Row, ...]]:
    while chunk := tuple(islice(rows, size)):
        yield chunk


@dataclass(frozen=True)
class _Debtor:
    """What the import needs of a debtor: its id and the facts that choose its policy."""

    id: int
    code: str
    type: str
    country: str
    facts: DebtorFacts


class _Intake:
    """One streaming import's state: the debtors seen so far, the policy choices, the counts."""

    def __init__(self, uow: UnitOfWork, policies: PolicySet, version_ids: dict[str, int], on: date) -> None:
        self.uow, self.policies, self.version_ids, self.on = uow, policies, version_ids, on
        self.problems: list[Problem] = []
        self.report = ImportReport()
        self.rows = 0
        self.debtors: dict[str, _Debtor] = {}
        self.bad_debtors: set[str] = set()
        self.last_old_invoice = uow.bulk.max_id("invoices")  # a higher id found again was written by this import
        self.by_amount = any(p.segment.amount_min is not None or p.segment.amount_max is not None
                             for p in policies.policies)
        self._chosen: dict[tuple[DebtorFacts, Decimal | None], Any] = {}
        self._first_dates: dict[tuple[str, date, date], date] = {}

    def take(self, chunk: tuple[t.Row, ...]) -> None:
        """Validate one chunk and, while the import is clean, write it."""
        self.rows += len(chunk)
        invoices, new_debtors = self._parse(chunk)
        self._learn_debtors(invoices, new_debtors)
        fresh = self._fresh(invoices)
        if not self.problems:
            self._write(fresh)

    def _parse(self, chunk: tuple[t.Row, ...]) -> tuple[list[_InvoiceRow], dict[str, dict[str, Any]]]:
        invoices: list[_InvoiceRow] = []
        new_debtors: dict[str, dict[str, Any]] = {}
        seen: dict[str, int] = {}
        for row in chunk:
            invoice = None if fields.refuse_control_characters(row, self.problems) else _invoice(row, self.problems)
            if invoice is None:
                continue
            if invoice.number in seen:
                self.problems.append(_twice(invoice, f"first on line {seen[invoice.number]}"))
                continue
            seen[invoice.number] = row.line
            if row.get("status").lower() == "draft":  # an ERP draft is not owed yet
                self.report.drafts += 1
                continue
            invoices.append(invoice)
            code = invoice.debtor_code
            if row.get("debtor_name") and code not in self.debtors and code not in new_debtors \
                    and code not in self.bad_debtors:
                values = _debtor_values(row, self.problems, prefix="debtor_")
                if values is not None:
                    new_debtors[code] = values
                else:
                    self.bad_debtors.add(code)  # already reported; "unknown debtor" would only repeat it
        return invoices, new_debtors

    def _learn_debtors(self, invoices: list[_InvoiceRow], new_debtors: dict[str, dict[str, Any]]) -> None:
        """Look up the chunk's debtors not seen yet; create those the file describes (while clean)."""
        codes = sorted({i.debtor_code for i in invoices} - self.debtors.keys())
        for code, (debtor_id, kind, country, tags, rating) in self.uow.bulk.lookup(
                "debtors", "code", codes, ("id", "type", "country", "tags", "credit_rating")).items():
            self.debtors[code] = _debtor(debtor_id, code, kind, country, tags, rating)
        create = [values for code, values in new_debtors.items() if code not in self.debtors]
        if not create:
            return
        if self.problems:  # nothing is written any more: the debtor only has to be known to check its invoices
            ids = [0] * len(create)
        else:
            ids = self.uow.bulk.reserve_ids("debtors", len(create))
            self.uow.bulk.insert("debtors", ("id", *DEBTOR_STORED),
                                 [(i, *(v[c] for c in DEBTOR_STORED)) for i, v in zip(ids, create)])
        for debtor_id, v in zip(ids, create):
            self.debtors[v["code"]] = _debtor(debtor_id, v["code"], v["type"], v["country"], v["tags"],
                                              v["credit_rating"])
        self.report.debtors_created += len(create)

    def _fresh(self, invoices: list[_InvoiceRow]) -> list[_InvoiceRow]:
        """The invoices not imported before; unknown debtors, changed invoices and repeats are problems."""
        known = self.uow.bulk.lookup("invoices", "number", [i.number for i in invoices],
                                     ("id", "amount", "currency", "due_date"))
        fresh: list[_InvoiceRow] = []
        for invoice in invoices:
            stored = known.get(invoice.number)
            if invoice.debtor_code in self.bad_debtors:
                continue
            if invoice.debtor_code not in self.debtors:
                self.problems.append(_unknown_debtor(invoice))
            elif stored is None:
                fresh.append(invoice)
            elif stored[0] > self.last_old_invoice:
                self.problems.append(_twice(invoice, "in an earlier part of this file"))
            elif _same_invoice(invoice, stored[1:]):
                self.report.unchanged += 1
            else:
                self.problems.append(_changed(invoice))
        return fresh

    def _write(self, fresh: list[_InvoiceRow]) -> None:
        """Invoices and their cases in one pass (ids reserved), then holds of held debtors."""
        cases = []
        for invoice in fresh:
            case = self._case(invoice)
            if case is not None:
                cases.append(case)
        if self.problems or not fresh:
            return
        ids = self.uow.bulk.reserve_ids("invoices", len(fresh))
        self.uow.bulk.insert("invoices", INVOICE_STORED, [
            (invoice_id, i.number, self.debtors[i.debtor_code].id, i.currency, i.amount, i.open_amount, i.issue_date,
             i.due_date, i.email or None) for invoice_id, i in zip(ids, fresh)])
        self.uow.bulk.insert("cases", CASE_STORED, [(invoice_id, *case) for invoice_id, case in zip(ids, cases)])
        self.report.created += len(fresh)
        self._hold(fresh, ids)

    def _case(self, invoice: _InvoiceRow) -> tuple[Any, ...] | None:
        """(debtor id, version id, state, next action date, ...) of the invoice's new case, or a Problem."""
        debtor = self.debtors[invoice.debtor_code]
        key = (debtor.facts, invoice.amount if self.by_amount else None)
        if key not in self._chosen:
            self._chosen[key] = choose_policy(self.policies.policies, debtor.facts, invoice.amount)
        policy = self._chosen[key]
        if policy is None:
            self.problems.append(_no_policy(invoice, debtor))
            return None
        return (debtor.id, self.version_ids[policy.name], NEW, self._first_date(policy, invoice), 0)

    def _first_date(self, policy: Any, invoice: _InvoiceRow) -> date | None:
        """When the first step is due (None for a segment that is tracked, never dunned); a few dates repeat."""
        if not policy.dunned:
            return None
        key = (policy.name, invoice.due_date, invoice.issue_date)
        if key not in self._first_dates:
            self._first_dates[key] = planned_date(policy, 0, invoice.due_date, None,
                                                  business_days(policy.settings.calendar),
                                                  issue_date=invoice.issue_date)
        return self._first_dates[key]

    def _hold(self, fresh: list[_InvoiceRow], ids: list[int]) -> None:
        """A debtor on hold stays on hold for invoices that arrive later."""
        debtor_ids = sorted({self.debtors[i.debtor_code].id for i in fresh})
        held = debtors_on_hold(self.uow, debtor_ids, self.on)
        for invoice, invoice_id in zip(fresh, ids):
            debtor_id = self.debtors[invoice.debtor_code].id
            hold = active_hold(self.uow, debtor_id, self.on) if debtor_id in held else None
            if hold is not None:
                hold_case(self.uow, invoice_id, hold, self.on, "import")


def _debtor(debtor_id: int, code: str, kind: str, country: str, tags: str, rating: str) -> _Debtor:
    facts = DebtorFacts(kind, country, frozenset(tag for tag in (tags or "").split(";") if tag), rating or "")
    return _Debtor(debtor_id, code, kind, country, facts)


def _same_invoice(invoice: _InvoiceRow, stored: tuple[Any, ...]) -> bool:
    """The stored (amount, currency, due date) equal the row's; SQLite hands back text."""
    amount, currency, due = stored
    due = due if isinstance(due, date) else date.fromisoformat(due)
    return (Decimal(str(amount)), currency, due) == (invoice.amount, invoice.currency, invoice.due_date)


def _twice(invoice: _InvoiceRow, where: str) -> Problem:
    row = invoice.row
    return Problem(row.file, row.line, row.col("number"), f"invoice '{invoice.number}' appears twice ({where})",
                   "each invoice once per file", "duplicate-row")


def _unknown_debtor(invoice: _InvoiceRow) -> Problem:
    row = invoice.row
    return Problem(row.file, row.line, row.col("debtor_code"), f"unknown debtor '{invoice.debtor_code}'",
                   "import the debtors first, or add debtor_name, debtor_type and debtor_country columns",
                   "unknown-debtor")


def _changed(invoice: _InvoiceRow) -> Problem:
    row = invoice.row
    return Problem(row.file, row.line, row.col("number"),
                   f"invoice '{invoice.number}' was already imported with other values",
                   "invoices are not overwritten; record payments or credit notes instead", "changed-invoice")


def _no_policy(invoice: _InvoiceRow, debtor: Any) -> Problem:
    row = invoice.row
    return Problem(row.file, row.line, row.col("debtor_code"),
                   f"no policy applies to debtor '{debtor.code}' ({debtor.type}, {debtor.country})",
                   "add a catch-all policy (match: {}) or widen a policy's match", "no-policy")


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
        invoice = None if fields.refuse_control_characters(row, problems) else _invoice(row, problems)
        if invoice is None:
            continue
        if invoice.number in seen:
            problems.append(_twice(invoice, f"first on line {seen[invoice.number]}"))
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
            problems.append(_unknown_debtor(invoice))
        elif invoice.number in existing:
            old = existing[invoice.number]
            if (old.amount, old.currency, old.due_date) != (invoice.amount, invoice.currency, invoice.due_date):
                problems.append(_changed(invoice))
        else:
            fresh.append(invoice)
    return fresh


def _insert_invoices(uow: UnitOfWork, fresh: list[_InvoiceRow], debtors: dict[str, Any], policies: PolicySet,
                     version_ids: dict[str, int], problems: list[Problem]) -> None:
    """Invoices and their cases for `sync` (a whole file in memory): the same bulk path as the import."""
    intake = _Intake(uow, policies, version_ids, date.min)
    intake.debtors = {code: _debtor(d.id, code, d.type, d.country, d.tags, d.credit_rating)
                      for code, d in debtors.items()}
    cases = [intake._case(invoice) for invoice in fresh]
    problems += intake.problems
    if problems or not fresh:
        return
    ids = uow.bulk.reserve_ids("invoices", len(fresh))
    uow.bulk.insert("invoices", INVOICE_STORED, [
        (invoice_id, i.number, debtors[i.debtor_code].id, i.currency, i.amount, i.open_amount, i.issue_date,
         i.due_date, i.email or None) for invoice_id, i in zip(ids, fresh)])
    uow.bulk.insert("cases", CASE_STORED, [(invoice_id, *case) for invoice_id, case in zip(ids, cases) if case])
