"""Invoices handed over to a collection agency: list them, export a case file per debtor, recall one.

A case file holds, per debtor, the debtor's data and one entry per invoice: principal, paid, open principal,
each charge to date (the same figures as `show invoice`, from `ledger.debt`), the total due, the full payment
history, the communication (audit trail and messages), disputes and promises. JSON (`<debtor>.json`) and/or
CSV (`<debtor>.csv`, one row per invoice), per the agency's profile in `dunflow.yaml`:

    collection:
      agencies:
        Inkasso Nord GmbH: {folder: collection/inkasso-nord, format: csv, fields: {invoice: Rechnungsnr, total_due: Forderung}}

Payments recorded after the hand-over are reported in the next export (`new_payments`), once: what an export
reported is remembered per invoice. An export of nothing new still rewrites the files with today's figures.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from dunflow.engine.charges import debts
from dunflow.errors import DunflowError, unknown_invoice
from dunflow.ledger.debt import statement_json
from dunflow.reporting.report import show_invoice
from dunflow.store.uow import UnitOfWork

CSV_FIELDS: tuple[str, ...] = (
    "debtor_code", "debtor_name", "debtor_type", "debtor_country", "debtor_email", "debtor_phone", "debtor_address",
    "debtor_postal_code", "debtor_city", "invoice", "issue_date", "due_date", "currency", "principal", "paid",
    "open_principal", "fee", "interest", "compensation", "collection_costs", "charges_open", "total_due", "agency",
    "handed_on", "new_payments",
)


@dataclass(frozen=True)
class Profile:
    agency: str
    folder: Path
    format: str  # json | csv | both
    fields: tuple[tuple[str, str], ...]  # ours → theirs; empty: every field under our name


def profile_for(agency: str, agencies: dict[str, Any], root: Path) -> Profile:
    """The agency's export profile from `dunflow.yaml`, or the default: `collection/<agency>`, JSON and CSV."""
    config = agencies.get(agency, {})
    folder = root / config.get("folder", f"collection/{_slug(agency)}")
    if not folder.resolve().is_relative_to(root.resolve()):
        raise DunflowError(f"collection folder '{config.get('folder')}' of {agency} is outside the project",
                           "use a folder inside the project in dunflow.yaml collection.agencies")
    fields = tuple(config.get("fields", {}).items())
    unknown = [ours for ours, _ in fields if ours not in CSV_FIELDS]
    if unknown:
        raise DunflowError(f"dunflow.yaml collection.agencies.{agency}.fields: unknown field(s) {', '.join(unknown)}",
                           f"use our field names: {', '.join(CSV_FIELDS)}")
    return Profile(agency, folder, config.get("format", "both"), fields)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "agency"


def list_collection(uow: UnitOfWork, as_of: date) -> list[dict[str, Any]]:
    """Every invoice handed over (or recalled), with its agency and total due."""
    rows = uow.debts.collection_cases()
    found = debts(uow, [row.invoice_id for row in rows], as_of)
    return [{"invoice": row.number, "debtor": row.debtor_code, "agency": row.agency, "status": row.status,
             "handed_on": row.handed_on.isoformat(), "recalled_on": row.recalled_on.isoformat() if row.recalled_on
             else None, "recall_reason": row.recall_reason, "currency": row.currency,
             "total_due": statement_json(found[row.invoice_id])["total_due"],
             "exported_at": row.exported_at.isoformat() if row.exported_at else None} for row in rows]


def recall(uow: UnitOfWork, number: str, reason: str, on: date) -> dict[str, Any]:
    """Call an invoice back from the agency: it leaves the exports; dunflow does not resume dunning by itself."""
    invoice = uow.invoices.ref(number)
    if invoice is None:
        raise unknown_invoice(number)
    row = uow.debts.collection_of(invoice.id)
    if row is None or row.status != "in_collection":
        raise DunflowError(f"invoice {number} is not in collection", "`dunflow collection list` shows what is")
    if not reason.strip():
        raise DunflowError("a recall needs a reason", "give --reason TEXT (it goes into the audit trail)")
    uow.debts.recall(row.id, on, reason)
    case = uow.cases.by_invoice_id(invoice.id)
    uow.debts.record_skip(dict(
        case_id=case.case_id, kind="recalled", step="", channel="", at=on, recorded_at=uow.clock.now(),
        policy_version_id=case.policy_version_id, from_state=case.state, to_state=case.state,
        rule=f"recalled from {row.agency}: {reason}", status="done", actor="dunflow", message_key=None,
        idempotency_key=f"recall:{row.id}:{on.isoformat()}:{uow.cases.action_count(case.case_id)}"))
    return {"invoice": number, "agency": row.agency, "recalled_on": on.isoformat(), "reason": reason}


def export(uow: UnitOfWork, agencies: dict[str, Any], root: Path, as_of: date,
           agency: str | None = None) -> list[dict[str, Any]]:
    """Write the case files of every debtor with invoices in collection (of `agency`); what was written."""
    rows = uow.debts.collection_cases(status="in_collection", agency=agency)
    if agency is not None and not rows:
        raise DunflowError(f"no invoice is in collection with {agency}", "`dunflow collection list` shows the agencies")
    by_file: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        by_file.setdefault((row.agency, row.debtor_id), []).append(row)
    written: list[dict[str, Any]] = []
    now = uow.clock.now()
    for (agency_name, debtor_id), group in sorted(by_file.items(), key=lambda item: (item[0][0], group_code(item[1]))):
        profile = profile_for(agency_name, agencies, root)
        debtor = uow.debts.debtor(debtor_id)
        case_file = _case_file(uow, profile, debtor, group, as_of, now.isoformat())
        paths = _write(profile, debtor.code, case_file)
        for row in group:
            uow.debts.mark_reported(row.id, [p["allocation_id"] for p in _new_payments(uow, row)], now)
            uow.debts.mark_exported(row.id, now)
        written.append({"agency": agency_name, "debtor": debtor.code, "invoices": [row.number for row in group],
                        "files": [str(p) for p in paths],
                        "new_payments": sum(len(inv["new_payments"]) for inv in case_file["invoices"])})
    return written


def group_code(rows: list[Any]) -> str:
    return str(rows[0].debtor_code)


def _new_payments(uow: UnitOfWork, row: Any) -> list[dict[str, Any]]:
    """Allocations to the invoice recorded on or after the hand-over and not reported in an earlier export."""
    reported = uow.debts.reported_allocations(row.id)
    return [{"allocation_id": a.id, "payment_id": a.payment_id, "on": a.on.isoformat(), "amount": str(a.amount)}
            for a in uow.debts.allocations_of_invoice(row.invoice_id)
            if a.id not in reported and a.on >= row.handed_on]


def _case_file(uow: UnitOfWork, profile: Profile, debtor: Any, rows: list[Any], as_of: date,
               exported_at: str) -> dict[str, Any]:
    invoices = []
    for row in rows:
        shown = show_invoice(uow, row.number, as_of)
        payments = [{"payment_id": a.payment_id, "on": a.on.isoformat(), "amount": str(a.amount)}
                    for a in uow.debts.allocations_of_invoice(row.invoice_id)]
        invoices.append({
            "invoice": row.number, "issue_date": shown["issue_date"], "due_date": shown["due_date"],
            "currency": row.currency, "agency": row.agency, "handed_on": row.handed_on.isoformat(),
            **{key: shown[key] for key in ("principal", "paid", "open_principal", "charges", "charges_open",
                                           "total_due", "charges_not_booked")},
            "payments": payments,
            "new_payments": [{k: v for k, v in p.items() if k != "allocation_id"} for p in _new_payments(uow, row)],
            "communication": shown["actions"],
            "disputes": [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in d.items()
                          if k in ("reason", "opened_on", "opened_by", "resolved_on", "resolution", "note")}
                         for d in uow.pauses.disputes(row.invoice_id)],
            "promises": [{"pay_by": p.pay_by.isoformat(), "amount": None if p.amount is None else str(p.amount),
                          "made_on": p.made_on.isoformat(), "made_by": p.made_by, "status": p.status}
                         for p in uow.debts.promises_of(row.invoice_id)],
        })
    return {"agency": profile.agency, "as_of": as_of.isoformat(), "exported_at": exported_at,
            "debtor": {"code": debtor.code, "name": debtor.name, "type": debtor.type, "country": debtor.country,
                       "email": debtor.email, "phone": debtor.phone, "address": debtor.address,
                       "postal_code": debtor.postal_code, "city": debtor.city},
            "invoices": invoices}


def csv_row(case_file: dict[str, Any], invoice: dict[str, Any]) -> dict[str, str]:
    """One invoice as a flat row under our field names: each charge kind summed (open amounts)."""
    debtor = case_file["debtor"]
    by_kind: dict[str, Decimal] = {}
    for charge in invoice["charges"]:
        by_kind[charge["kind"]] = by_kind.get(charge["kind"], Decimal(0)) + Decimal(charge["open"])
    row = {f"debtor_{key}" if key != "code" else "debtor_code": str(value or "") for key, value in debtor.items()}
    row.update({key: str(invoice[key]) for key in ("invoice", "issue_date", "due_date", "currency", "principal",
                                                  "paid", "open_principal", "charges_open", "total_due", "agency",
                                                  "handed_on")})
    row.update({kind: str(by_kind.get(kind, Decimal("0.00"))) for kind in
                ("fee", "interest", "compensation", "collection_costs")})
    row["new_payments"] = str(sum((Decimal(p["amount"]) for p in invoice["new_payments"]), Decimal("0.00")))
    return row


def _renamed(profile: Profile, data: dict[str, Any]) -> dict[str, Any]:
    if not profile.fields:
        return data
    return {theirs: data.get(ours, "") for ours, theirs in profile.fields}


def _write(profile: Profile, code: str, case_file: dict[str, Any]) -> list[Path]:
    profile.folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    name = re.sub(r"[^A-Za-z0-9._-]", "_", code).lstrip(".") or "debtor"
    if profile.format in ("json", "both"):
        document = {**case_file, "invoices": [{**invoice, **_renamed(profile, csv_row(case_file, invoice))}
                                              if profile.fields else invoice for invoice in case_file["invoices"]]}
        path = profile.folder / f"{name}.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        paths.append(path)
    if profile.format in ("csv", "both"):
        header = [theirs for _, theirs in profile.fields] or list(CSV_FIELDS)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for invoice in case_file["invoices"]:
            writer.writerow(_renamed(profile, csv_row(case_file, invoice)))
        path = profile.folder / f"{name}.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        paths.append(path)
    return paths
