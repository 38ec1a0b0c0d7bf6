"""The hand-written SQL floor (BENCHMARKS.md): the same work as dunflow, with no engine around it.

Daily run: select the due cases by the `next_action_at` index, insert one action and one outbox
row per case (a ~600-byte body made with `str.format`), move the case to its next step; batches
of 1,000, one transaction per batch, `executemany`. It writes into dunflow's own tables (created
by dunflow's migrations), on SQLite (WAL, synchronous=NORMAL) or PostgreSQL. The select joins the
invoice and the debtor because the body names them (number, amount, due date, recipient).

Import: Python `csv` + validation of amounts (Decimal, the currency's decimals), dates,
currencies, duplicates + debtor lookup (new debtors from the debtor_* columns) + `executemany`
into debtors, invoices and (unless --no-cases) one dunning case per invoice, in one transaction.
`--copy` uses PostgreSQL `COPY` instead of `executemany` for the writes.

Usage (prints one JSON line):
    python floor.py daily  sqlite:////path/db.sqlite --as-of 2026-12-01
    python floor.py daily  'postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dx' --as-of 2026-12-01
    python floor.py import sqlite:////path/db.sqlite invoices.csv [--no-cases]
    python floor.py import 'postgresql://...' invoices.csv [--no-cases] [--copy]
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sqlite3
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Sequence

BATCH = 1000

SUBJECT = "Zahlungserinnerung: Rechnung {number}"
BODY = """Sehr geehrte Damen und Herren,

bei der Durchsicht unserer Buchhaltung haben wir festgestellt, dass die Rechnung {number}, \
fällig am {due_date}, über {amount} {currency} zum {as_of} noch nicht ausgeglichen ist.

Wir bitten Sie, den offenen Betrag von {amount} {currency} bis zum {pay_by} auf folgendes Konto zu überweisen:

Kontoinhaber: {creditor}
IBAN: {iban}
Verwendungszweck: {number}

Sollte sich Ihre Zahlung mit diesem Schreiben überschnitten haben, betrachten Sie es bitte als gegenstandslos.

Mit freundlichen Grüßen

{creditor}
"""
CREDITOR = dict(creditor="Muster Maschinenbau GmbH", iban="DE89370400440532013000")

# The floor does not evaluate policies: a due case moves one step on and is looked at again in 7 days.
STEPS = ("new", "courtesy", "reminder", "first-notice", "final-notice", "handover")

DUE_SELECT = """
SELECT c.id, c.debtor_id, c.policy_version_id, c.state, c.revision,
       i.number, i.currency, i.open_amount, i.due_date, d.email
FROM cases c JOIN invoices i ON i.id = c.invoice_id JOIN debtors d ON d.id = c.debtor_id
WHERE c.next_action_at <= {p}
"""
INSERT_ACTION = """
INSERT INTO actions (case_id, kind, step, channel, at, recorded_at, policy_version_id, from_state, to_state,
                     rule, status, actor, message_key, idempotency_key)
VALUES ({p}, 'step', {p}, 'email', {p}, {p}, {p}, {p}, {p}, {p}, 'queued', 'runner', {p}, {p})
"""
INSERT_OUTBOX = """
INSERT INTO outbox (key, debtor_id, channel, recipient, language, template, step, subject, body, invoice_numbers,
                    routing, status, created_on, created_at, sent_at, attempts, last_error)
VALUES ({p}, {p}, 'email', {p}, 'de', {p}, {p}, {p}, {p}, {p}, 'email as the step says', 'pending', {p}, {p},
        NULL, 0, '')
"""
UPDATE_CASE = """
UPDATE cases SET state = {p}, last_step_on = {p}, next_action_at = {p}, revision = revision + 1 WHERE id = {p}
"""


def _sql(statement: str, placeholder: str) -> str:
    return statement.format(p=placeholder)


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _batch_rows(chunk: Sequence[Any], as_of: date, now: Any, iso: bool) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(actions, outbox, case updates) for one batch of due cases; `iso`: dates as text (SQLite)."""
    day = as_of.isoformat() if iso else as_of
    pay_by = (as_of + timedelta(days=7)).isoformat()
    nxt = as_of + timedelta(days=7)
    nxt = nxt.isoformat() if iso else nxt
    actions, outbox, updates = [], [], []
    for case_id, debtor_id, version_id, state, revision, number, currency, open_amount, due_date, email in chunk:
        step = STEPS[STEPS.index(state) + 1]
        key = f"case:{case_id}:r{revision}:{step}:email"
        body = BODY.format(number=number, due_date=due_date, amount=open_amount, currency=currency,
                           as_of=as_of, pay_by=pay_by, **CREDITOR)
        actions.append((case_id, step, day, now, version_id, state, step,
                        f"{step}: 7 days after the due date {due_date} -> {as_of}", key,
                        f"case:{case_id}:r{revision}:step:{step}:email:0"))
        outbox.append((key, debtor_id, email, f"b2b/{step}", step, SUBJECT.format(number=number), body,
                       json.dumps([number]), day, now))
        updates.append((step, day, nxt, case_id))
    return actions, outbox, updates


def daily_sqlite(path: Path, as_of: date, batch: int = BATCH) -> dict[str, Any]:
    con = sqlite3.connect(str(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")  # dunflow's schema, enforced as dunflow enforces it
    started = time.perf_counter()
    due = con.execute(_sql(DUE_SELECT, "?"), (as_of.isoformat(),)).fetchall()
    selected = time.perf_counter()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    action_sql, outbox_sql, update_sql = (_sql(s, "?") for s in (INSERT_ACTION, INSERT_OUTBOX, UPDATE_CASE))
    for chunk in _chunks(due, batch):
        actions, outbox, updates = _batch_rows(chunk, as_of, now, iso=True)
        con.execute("BEGIN")
        con.executemany(action_sql, actions)
        con.executemany(outbox_sql, outbox)
        con.executemany(update_sql, updates)
        con.execute("COMMIT")
    finished = time.perf_counter()
    con.close()
    return {"seconds": finished - started, "select_s": selected - started, "cases": len(due)}


def daily_postgres(url: str, as_of: date, batch: int = BATCH) -> dict[str, Any]:
    import psycopg

    con = psycopg.connect(url)
    started = time.perf_counter()
    with con.cursor() as cur:
        cur.execute(_sql(DUE_SELECT, "%s"), (as_of,))
        due = cur.fetchall()
    con.commit()
    selected = time.perf_counter()
    now = datetime.now(timezone.utc)
    action_sql, outbox_sql, update_sql = (_sql(s, "%s") for s in (INSERT_ACTION, INSERT_OUTBOX, UPDATE_CASE))
    for chunk in _chunks(due, batch):
        actions, outbox, updates = _batch_rows(chunk, as_of, now, iso=False)
        with con.cursor() as cur:
            cur.executemany(action_sql, actions)
            cur.executemany(outbox_sql, outbox)
            cur.executemany(update_sql, updates)
        con.commit()
    finished = time.perf_counter()
    con.close()
    return {"seconds": finished - started, "select_s": selected - started, "cases": len(due)}


# --- import -------------------------------------------------------------------------------------

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
INVOICE_COLUMNS = ("number", "debtor_code", "currency", "amount", "open_amount", "issue_date", "due_date")
DEBTOR_COLUMNS = ("name", "type", "country", "language", "email", "phone", "address", "postal_code", "city", "tags")


def _currencies() -> dict[str, Decimal]:
    """ISO 4217 code → the quantum of its minor unit (from Babel, as dunflow does)."""
    from babel.numbers import get_currency_precision, list_currencies

    return {code: Decimal(1).scaleb(-get_currency_precision(code)) for code in list_currencies()}


class Invalid(Exception):
    pass


def _parse(csv_path: Path, known_debtors: dict[str, tuple[int, str, str]]) -> tuple[list[tuple], dict[str, tuple]]:
    """Validated invoice tuples and new debtors; raises Invalid listing every bad line."""
    quanta = _currencies()
    problems: list[str] = []
    invoices: list[tuple] = []
    new_debtors: dict[str, tuple] = {}
    seen: set[str] = set()
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader)]
        at = {name: header.index(name) for name in header}
        inv = [at[c] for c in INVOICE_COLUMNS]
        deb = [at.get(f"debtor_{c}") for c in DEBTOR_COLUMNS]
        for line, cells in enumerate(reader, start=2):
            number, code, currency, amount, open_amount, issue, due = (cells[i].strip() for i in inv)
            currency = currency.upper()
            quantum = quanta.get(currency)
            ok = bool(number and code and quantum is not None and _AMOUNT.fullmatch(amount)
                      and (not open_amount or _AMOUNT.fullmatch(open_amount))
                      and _DATE.fullmatch(issue) and _DATE.fullmatch(due))
            if ok:
                try:
                    value = Decimal(amount)
                    rest = Decimal(open_amount) if open_amount else value
                    issue_on, due_on = date.fromisoformat(issue), date.fromisoformat(due)
                except ValueError:
                    ok = False
                else:
                    ok = (value == value.quantize(quantum) and rest == rest.quantize(quantum) and rest <= value
                          and due_on >= issue_on and number not in seen)
            if not ok:
                problems.append(f"{csv_path}:{line}: invalid invoice row")
                continue
            seen.add(number)
            invoices.append((number, code, currency, value, rest, issue_on, due_on))
            if code not in known_debtors and code not in new_debtors:
                values = tuple(cells[i].strip() if i is not None else "" for i in deb)
                kind, country = values[1].lower(), values[2].upper()
                if not values[0] or kind not in ("business", "consumer") or len(country) != 2 or not country.isalpha():
                    problems.append(f"{csv_path}:{line}: unknown debtor {code} without valid debtor columns")
                    continue
                new_debtors[code] = (values[0], kind, country, values[3].lower(), *values[4:9],
                                     ";".join(sorted({t.strip() for t in values[9].split(";") if t.strip()})))
    if problems:
        raise Invalid(f"{len(problems)} problem(s), first: {problems[0]}")
    return invoices, new_debtors


def _policy_for(versions: dict[str, int], kind: str, tags: str) -> int:
    """The floor's policy choice: key accounts, else by customer type (the shipped policies' segments)."""
    if kind == "business" and "key-account" in tags.split(";"):
        return versions["key-accounts"]
    return versions["b2b-standard" if kind == "business" else "b2c-consumer"]


def _import_rows(invoices: list[tuple], new_debtors: dict[str, tuple], known: dict[str, tuple[int, str, str]],
                 first_debtor: int, first_invoice: int, versions: dict[str, int], with_cases: bool,
                 iso: bool) -> tuple[list[tuple], list[tuple], list[tuple]]:
    debtor_rows = []
    debtors = dict(known)
    for offset, (code, values) in enumerate(new_debtors.items()):
        debtor_id = first_debtor + offset
        debtor_rows.append((debtor_id, code, *values, ""))
        debtors[code] = (debtor_id, values[1], values[9])
    invoice_rows, case_rows = [], []
    three = timedelta(days=3)
    for offset, (number, code, currency, amount, rest, issue, due) in enumerate(invoices):
        invoice_id = first_invoice + offset
        debtor_id, kind, tags = debtors[code]
        if iso:
            invoice_rows.append((invoice_id, number, debtor_id, currency, str(amount), str(rest), issue.isoformat(),
                                 due.isoformat()))
        else:
            invoice_rows.append((invoice_id, number, debtor_id, currency, amount, rest, issue, due))
        if with_cases:
            first = due - three
            case_rows.append((invoice_id, invoice_id, debtor_id, _policy_for(versions, kind, tags), "new",
                              first.isoformat() if iso else first))
    return debtor_rows, invoice_rows, case_rows


INSERT_DEBTOR = ("INSERT INTO debtors (id, code, name, type, country, language, email, phone, address, postal_code, "
                 "city, tags, credit_rating) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})")
INSERT_INVOICE = ("INSERT INTO invoices (id, number, debtor_id, currency, amount, open_amount, issue_date, due_date) "
                  "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})")
INSERT_CASE = ("INSERT INTO cases (id, invoice_id, debtor_id, policy_version_id, state, next_action_at, revision) "
               "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, 0)")


def import_sqlite(path: Path, csv_path: Path, with_cases: bool = True) -> dict[str, Any]:
    con = sqlite3.connect(str(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    started = time.perf_counter()
    con.execute("BEGIN IMMEDIATE")
    known = {code: (i, kind, tags) for i, code, kind, tags in con.execute("SELECT id, code, type, tags FROM debtors")}
    versions = dict(con.execute("SELECT name, max(id) FROM policy_versions GROUP BY name"))
    invoices, new_debtors = _parse(csv_path, known)
    first_debtor = con.execute("SELECT coalesce(max(id), 0) + 1 FROM debtors").fetchone()[0]
    first_invoice = con.execute("SELECT coalesce(max(id), 0) + 1 FROM invoices").fetchone()[0]
    debtor_rows, invoice_rows, case_rows = _import_rows(invoices, new_debtors, known, first_debtor, first_invoice,
                                                        versions, with_cases, iso=True)
    con.executemany(_sql(INSERT_DEBTOR, "?"), debtor_rows)
    con.executemany(_sql(INSERT_INVOICE, "?"), invoice_rows)
    if with_cases:
        con.executemany(_sql(INSERT_CASE, "?"), case_rows)
    con.execute("COMMIT")
    finished = time.perf_counter()
    con.close()
    return {"seconds": finished - started, "invoices": len(invoice_rows), "cases": len(case_rows),
            "debtors_created": len(debtor_rows)}


def import_postgres(url: str, csv_path: Path, with_cases: bool = True, copy: bool = False) -> dict[str, Any]:
    import psycopg

    con = psycopg.connect(url)
    started = time.perf_counter()
    cur = con.cursor()
    known = {code: (i, kind, tags) for i, code, kind, tags in cur.execute("SELECT id, code, type, tags FROM debtors")}
    versions = dict(cur.execute("SELECT name, max(id) FROM policy_versions GROUP BY name").fetchall())
    invoices, new_debtors = _parse(csv_path, known)
    first_debtor = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM debtors").fetchone()[0]
    first_invoice = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM invoices").fetchone()[0]
    debtor_rows, invoice_rows, case_rows = _import_rows(invoices, new_debtors, known, first_debtor, first_invoice,
                                                        versions, with_cases, iso=False)
    writes = [(INSERT_DEBTOR, debtor_rows), (INSERT_INVOICE, invoice_rows)] + ([(INSERT_CASE, case_rows)]
                                                                              if with_cases else [])
    for statement, rows in writes:
        if copy:
            columns = statement[statement.index("("):statement.index(")") + 1]
            table = statement.split()[2]
            if table == "cases":  # COPY has no constant values: revision 0 goes into each row
                rows = [(*r, 0) for r in rows]
            with cur.copy(f"COPY {table} {columns} FROM STDIN") as stream:
                for row in rows:
                    stream.write_row(row)
        else:
            cur.executemany(_sql(statement, "%s"), rows)
    for table in ("debtors", "invoices", "cases"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")
    con.commit()
    finished = time.perf_counter()
    con.close()
    return {"seconds": finished - started, "invoices": len(invoice_rows), "cases": len(case_rows),
            "debtors_created": len(debtor_rows)}


# --- command line -------------------------------------------------------------------------------

def _target(url: str) -> tuple[str, str]:
    """('sqlite', path) or ('postgres', libpq URL) from a SQLAlchemy or plain URL."""
    if url.startswith("sqlite:///"):
        return "sqlite", url[len("sqlite:///"):]
    return "postgres", url.replace("postgresql+psycopg://", "postgresql://", 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    daily = sub.add_parser("daily")
    daily.add_argument("url")
    daily.add_argument("--as-of", required=True, type=date.fromisoformat)
    daily.add_argument("--batch", type=int, default=BATCH)
    imp = sub.add_parser("import")
    imp.add_argument("url")
    imp.add_argument("csv", type=Path)
    imp.add_argument("--no-cases", action="store_true")
    imp.add_argument("--copy", action="store_true", help="PostgreSQL: COPY instead of executemany")
    args = parser.parse_args(argv)
    kind, where = _target(args.url)
    if args.mode == "daily":
        result = (daily_sqlite(Path(where), args.as_of, args.batch) if kind == "sqlite"
                  else daily_postgres(where, args.as_of, args.batch))
    elif kind == "sqlite":
        result = import_sqlite(Path(where), args.csv, not args.no_cases)
    else:
        result = import_postgres(where, args.csv, not args.no_cases, args.copy)
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
