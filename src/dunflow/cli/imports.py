"""`dunflow import debtors|invoices|payments FILE|-`: the import commands and what they share.

FILE may be `-`: the bytes on stdin are spooled to a private temporary file (the readers may read a
file twice, and XLSX needs random access), and every problem found in it is reported as `<stdin>`.
The input format comes from `--input-format`, else from the file's extension and content; on stdin
only the content can tell, and when it cannot the error asks for `--input-format`.
"""
from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, WRITE_FORMAT, report, workspace
from dunflow.cli.payments import leftover_text, recorded_once
from dunflow.cli.progress import progress_bar
from dunflow.errors import DunflowError, InputProblems

if TYPE_CHECKING:
    from dunflow.ledger.payments import PaymentReport

STDIN = "-"
STDIN_LABEL = "<stdin>"
TABLE_FORMATS = ("csv", "xlsx")
PAYMENT_FORMATS = ("csv", "xlsx", "camt", "camt053", "camt054", "mt940", "zip")
SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx", "camt": ".xml", "camt053": ".xml", "camt054": ".xml", "mt940": ".sta",
            "zip": ".zip"}
SKIPPED_WORDS = {"debit": "debit(s)", "pending": "pending", "informational": "informational",
                 "reversal": "reversal(s) of debits", "zero": "0.00 credit(s)"}


def _input_format(choices: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--input-format", "input_format", type=click.Choice(choices), default=None,
                        help="Format of FILE (default: from its extension and content; needed for `-` "
                             "when the content cannot tell).")


@click.group(name="import")
def import_() -> None:
    """Load debtors, invoices or payments from CSV / XLSX (payments also camt.053/054, MT940, ZIP); FILE `-` reads stdin."""


@import_.command(name="debtors")
@click.argument("file")
@_input_format(TABLE_FORMATS)
@WRITE_FORMAT
@click.pass_context
def import_debtors_cmd(ctx: click.Context, file: str, input_format: str | None, fmt: str) -> None:
    """Create or update debtors from FILE (CSV or XLSX, `-` for stdin)."""
    from dunflow.ledger.invoices import import_debtors

    ws = workspace(ctx)
    with _source(file, input_format, TABLE_FORMATS) as (path, kind), progress_bar(ctx, "importing debtors"):
        with ws.store.writing() as uow:
            result = import_debtors(uow, path, kind)
    data = {"kind": "debtors", "file": file, "created": result.created, "updated": result.updated,
            "unchanged": result.unchanged}
    report(fmt, data, lambda d: click.echo(f"debtors: {d['created']} created, {d['updated']} updated, "
                                           f"{d['unchanged']} unchanged"))


@import_.command(name="invoices")
@click.argument("file")
@_input_format(TABLE_FORMATS)
@WRITE_FORMAT
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date of the import (default: today); a debtor on hold on "
              "that date holds the new invoices too.")
@click.option("--sync", is_flag=True, help="The ERP's open items: update open amounts and statuses "
              "(open, paid, cancelled, credited, draft) of known invoices too.")
@click.option("--full", is_flag=True, help="With --sync: the file lists every open item; invoices missing "
              "from it are closed.")
@click.pass_context
def import_invoices_cmd(ctx: click.Context, file: str, input_format: str | None, fmt: str,
                        as_of: date | None, sync: bool, full: bool) -> None:
    """Load invoices (and unknown debtors given in debtor_* columns); each open invoice gets a dunning case."""
    from dunflow.ledger.invoices import import_invoices
    from dunflow.policy.active import policies_for_new_cases

    if full and not sync:
        raise click.UsageError("--full only makes sense with --sync")
    ws = workspace(ctx)
    if sync:
        _sync_invoices(ctx, file, input_format, fmt, as_of, full)
        return
    with _source(file, input_format, TABLE_FORMATS) as (path, kind), progress_bar(ctx, "importing invoices") as bar:
        with ws.store.writing() as uow:  # the active versions once applied, else the files (stored as versions)
            policy_set, versions = policies_for_new_cases(uow, lambda: ws.policies)
            result = import_invoices(uow, path, policy_set, versions, as_of or ws.clock.today(), kind, bar)
    data = {"kind": "invoices", "file": file, "created": result.created, "unchanged": result.unchanged,
            "debtors_created": result.debtors_created}
    report(fmt, data, lambda d: click.echo(f"invoices: {d['created']} imported, {d['unchanged']} already known"
                                           + (f"; {d['debtors_created']} new debtors" if d["debtors_created"]
                                              else "")
                                           + (f"; {result.drafts} drafts skipped (not owed yet)" if result.drafts
                                              else "")))


def _sync_invoices(ctx: click.Context, file: str, input_format: str | None, fmt: str, as_of: date | None,
                   full: bool) -> None:
    """`import invoices --sync [--full]`: the ERP's open items, every difference an audited case event."""
    from dunflow.events.firing import current_actor
    from dunflow.ledger.sync import sync_invoices

    ws = workspace(ctx)
    actor = current_actor()
    with _source(file, input_format, TABLE_FORMATS) as (path, kind), progress_bar(ctx, "syncing invoices"):
        with ws.store.writing() as uow:
            versions = uow.versions.register(ws.policies, uow.clock.now())
            today = as_of or uow.clock.today(ws.policies.policies[0].settings.timezone)
            result = sync_invoices(uow, path, ws.policies, versions, full=full, on=today, actor=actor, fmt=kind)
    data = {"kind": "invoices-sync", "file": file, "full": full, "created": result.created,
            "reduced": result.reduced, "reopened": result.reopened, "cancelled": result.cancelled,
            "closed_missing": result.closed_missing, "unchanged": result.unchanged,
            "drafts_skipped": result.drafts_skipped}
    report(fmt, data, lambda d: click.echo(
        f"invoices synced: {d['created']} new, {d['reduced']} reduced or paid, {d['reopened']} re-opened, "
        f"{d['cancelled']} cancelled, {d['closed_missing']} closed (missing from the export), "
        f"{d['unchanged']} unchanged, {d['drafts_skipped']} drafts skipped"))


@import_.command(name="payments")
@click.argument("file")
@_input_format(PAYMENT_FORMATS)
@click.option("--profile", default=None, help="Bank CSV layout: a preset (ing-nl, rabobank, sparkasse-camt, "
              "ing-de, …) or a name under payments.csv_profiles in dunflow.yaml.")
@WRITE_FORMAT
@click.pass_context
def import_payments_cmd(ctx: click.Context, file: str, input_format: str | None, profile: str | None,
                        fmt: str) -> None:
    """Record bank entries and returns (camt.053/054, MT940, ZIP, bank CSV/XLSX, `-` for stdin), match them to
    invoices; says what was skipped and why."""
    from dunflow.events.firing import current_actor
    from dunflow.formats.bankcsv import CsvProfile
    from dunflow.ledger.payments import import_payments

    actor = current_actor()
    project = workspace(ctx).project
    profiles = {name: CsvProfile.from_config(data) for name, data in project.csv_profiles.items()}
    own = [account for account in (project.creditor.iban, *project.accounts) if account]
    with _source(file, input_format, PAYMENT_FORMATS) as (path, kind), progress_bar(ctx, "importing payments"):
        result: PaymentReport = recorded_once(ctx, lambda c: import_payments(
            c, path, kind, actor, profile=profile, profiles=profiles, own_accounts=own))
    report(fmt, {"kind": "payments", "file": file, **result.as_json()}, lambda d: _print_payments(result))


def _print_payments(result: PaymentReport) -> None:
    from dunflow.ledger.payments import money_text

    skipped = ", ".join(f"{count} {SKIPPED_WORDS[reason]}" for reason, count in result.skipped.items() if count)
    click.echo(f"payments: {result.recorded} recorded ({result.count('matched')} matched, "
               f"{result.count('credit')} with a credit left, {result.count('unmatched')} unmatched), "
               f"{result.already_imported} already imported, {len(result.returns)} returned"
               + (f"; skipped: {skipped}" if skipped else ""))
    for outcome in result.outcomes:
        if outcome.status != "matched":
            output.echo("  " + leftover_text(outcome))
    for returned in result.returns:
        if returned.reversed_payment is None:
            output.echo(f"  return {returned.external_id}: {money_text(returned.amount, returned.currency)} "
                       f"{returned.currency} unmatched ({returned.why_unmatched})")
        else:
            output.echo(f"  return {returned.external_id} ({returned.reason}): payment #{returned.reversed_payment} "
                       f"reversed, re-opened {', '.join(returned.reopened) or 'nothing'}")
    if result.count("unmatched") or result.count("credit") or any(r.reversed_payment is None for r in result.returns):
        click.echo("See `dunflow payments unmatched`; assign with `dunflow payments assign ID INVOICE`.")


# --- FILE or `-` ------------------------------------------------------------------------------


@contextmanager
def _source(file: str, input_format: str | None, kinds: tuple[str, ...]) -> Iterator[tuple[Path, str | None]]:
    """The path to read and its format (None: let the reader sniff); stdin is spooled to a temporary file."""
    if file != STDIN:
        yield Path(file), input_format
        return
    data = _stdin_bytes()
    kind = input_format or _sniff_stdin(data, kinds)
    with tempfile.TemporaryDirectory(prefix="dunflow-stdin-") as folder:
        path = Path(folder) / f"stdin{SUFFIXES[kind]}"
        path.write_bytes(data)
        try:
            yield path, kind
        except DunflowError as exc:
            raise _relabelled(exc, str(path)) from None


def _stdin_bytes() -> bytes:
    stream = sys.stdin.buffer
    if stream.isatty():
        raise DunflowError("FILE is `-` but stdin is a terminal", "pipe the file in: `dunflow import … - < file.csv`")
    data = stream.read()
    if not data:
        raise DunflowError("FILE is `-` but stdin is empty", "pipe the file in: `dunflow import … - < file.csv`")
    return data


def _sniff_stdin(data: bytes, kinds: tuple[str, ...]) -> str:
    """The format the content shows (no file name to go by); text that is not UTF-8 cannot be told."""
    from dunflow.formats.bankfiles import sniff_payments_format
    from dunflow.formats.tables import sniff_table_format

    sniff: Callable[[Path, bytes], str] = sniff_payments_format if "camt" in kinds else sniff_table_format
    kind = sniff(Path(STDIN_LABEL), data)
    if kind == "csv" and not _is_utf8(data):
        raise DunflowError("cannot tell the format of the data on stdin (neither UTF-8 text nor XLSX)",
                           f"say it with --input-format {'|'.join(kinds)}")
    return kind


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return True


def _relabelled(exc: DunflowError, spooled: str) -> DunflowError:
    """The same error, naming `<stdin>` instead of the temporary file it was read from."""
    from dataclasses import replace

    exc.message, exc.hint = exc.message.replace(spooled, STDIN_LABEL), exc.hint.replace(spooled, STDIN_LABEL)
    if isinstance(exc, InputProblems):
        exc.problems = [replace(p, file=p.file.replace(spooled, STDIN_LABEL),
                                message=p.message.replace(spooled, STDIN_LABEL)) for p in exc.problems]
    return exc
