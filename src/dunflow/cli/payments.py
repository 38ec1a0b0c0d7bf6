"""The payment commands: `import payments`, `payment add`, `payments unmatched`, `payments assign`.

They live apart from cli.py so the payments work can grow without touching the core commands;
`register(main)` hangs them onto the main group. Each writing command is one transaction: it
succeeds entirely or changes nothing. Printing happens here and in output.py only.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import IntegrityError

from dunflow.cli.common import ISO_DATE, parse_amount, workspace
from dunflow.errors import DunflowError
from dunflow.events.firing import current_actor
from dunflow.ledger.payments import (
    PaymentOutcome,
    PaymentReport,
    add_payment,
    assign_payment,
    import_payments,
    list_payments,
    money_text,
    reverse_payment,
    unmatched_payments,
)

CONCURRENT_HINT = "another command recorded the same payment at the same time; run this command again"


def _transaction(ctx: click.Context, work: Any) -> Any:
    """Run `work(connection)` in one transaction; a unique-key race becomes a user error, not a traceback."""
    ws = workspace(ctx)
    try:
        with ws.engine.begin() as connection:
            return work(connection)
    except IntegrityError:
        raise DunflowError("the payment was recorded concurrently; nothing was changed", CONCURRENT_HINT) from None


INPUT_FORMATS = ["csv", "xlsx", "camt", "camt053", "camt054", "mt940", "zip"]
SKIPPED_WORDS = {"debit": "debit(s)", "pending": "pending", "informational": "informational",
                 "reversal": "reversal(s) of debits", "zero": "0.00 credit(s)"}


@click.command(name="payments")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--input-format", "input_format", type=click.Choice(INPUT_FORMATS), default=None,
              help="Default: recognised by content (camt.053/054, MT940, ZIP, XLSX, CSV).")
@click.option("--profile", default=None, help="Bank CSV layout: a preset (ing-nl, rabobank, sparkasse-camt, "
              "ing-de) or a name under payments.csv_profiles in dunflow.yaml.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx", "camt053"]), default="table",
              help="Output: table or json. (csv/xlsx/camt053 here are the old spelling of --input-format.)")
@click.pass_context
def import_payments_cmd(ctx: click.Context, file: Path, input_format: str | None, profile: str | None,
                        fmt: str) -> None:
    """Record bank entries and returns, and match them to invoices; says what was skipped and why."""
    from dunflow.cli import output
    from dunflow.formats.bankcsv import CsvProfile

    if fmt not in ("table", "json"):
        input_format, fmt = input_format or fmt, "table"
    actor = current_actor()
    project = workspace(ctx).project
    profiles = {name: CsvProfile.from_config(data) for name, data in project.csv_profiles.items()}
    own = [account for account in (project.creditor.iban, *project.accounts) if account]
    report: PaymentReport = _transaction(ctx, lambda c: import_payments(
        c, file, input_format, actor, profile=profile, profiles=profiles, own_accounts=own))
    if fmt == "json":
        output.emit_json(report.as_json())
        return
    _print_report(report)


def _print_report(report: PaymentReport) -> None:
    skipped = ", ".join(f"{count} {SKIPPED_WORDS[reason]}" for reason, count in report.skipped.items() if count)
    click.echo(f"payments: {report.recorded} recorded ({report.count('matched')} matched, "
               f"{report.count('credit')} with a credit left, {report.count('unmatched')} unmatched), "
               f"{report.already_imported} already imported, {len(report.returns)} returned"
               + (f"; skipped: {skipped}" if skipped else ""))
    for outcome in report.outcomes:
        if outcome.status != "matched":
            click.echo("  " + _leftover(outcome))
    for returned in report.returns:
        if returned.reversed_payment is None:
            click.echo(f"  return {returned.external_id}: {money_text(returned.amount, returned.currency)} "
                       f"{returned.currency} unmatched ({returned.why_unmatched})")
        else:
            click.echo(f"  return {returned.external_id} ({returned.reason}): payment #{returned.reversed_payment} "
                       f"reversed, re-opened {', '.join(returned.reopened) or 'nothing'}")
    if report.count("unmatched") or report.count("credit") or any(r.reversed_payment is None for r in report.returns):
        click.echo("See `dunflow payments unmatched`; assign with `dunflow payments assign ID INVOICE`.")


def _leftover(outcome: PaymentOutcome) -> str:
    left = f"{money_text(outcome.unallocated, outcome.currency)} {outcome.currency}"
    if outcome.status == "credit":
        return f"#{outcome.payment_id} {outcome.external_id}: {left} left as a credit for the debtor"
    return f"#{outcome.payment_id} {outcome.external_id}: {left} unmatched ({outcome.matched_by})"


def _print_outcome(outcome: PaymentOutcome) -> None:
    what = "credit note" if outcome.kind == "credit_note" else "payment"
    click.echo(f"{what} #{outcome.payment_id} '{outcome.external_id}': "
               f"{money_text(outcome.amount, outcome.currency)} {outcome.currency}")
    for applied in outcome.applied:
        click.echo(f"  {applied.invoice}: {money_text(applied.amount, outcome.currency)} applied, "
                   f"{money_text(applied.open_amount, outcome.currency)} open, state {applied.state}")
    if outcome.status != "matched":
        click.echo("  " + _leftover(outcome))


@click.group(name="payment")
def payment_group() -> None:
    """Record one payment by hand."""


@payment_group.command(name="add")
@click.argument("invoice")
@click.argument("amount")
@click.option("--date", "on", required=True, type=ISO_DATE, help="Date the money arrived (YYYY-MM-DD).")
@click.option("--reference", default=None,
              help="Unique reference (e.g. the bank's); a second payment with it is refused.")
@click.option("--credit-note", is_flag=True, help="Record a credit note instead of a payment.")
@click.pass_context
def payment_add_cmd(ctx: click.Context, invoice: str, amount: str, on: date, reference: str | None,
                    credit_note: bool) -> None:
    """Record AMOUNT received for INVOICE; any surplus goes to the debtor's other open invoices."""
    value = parse_amount(amount)
    actor = current_actor()
    outcome = _transaction(ctx, lambda c: add_payment(c, invoice, value, on, reference, credit_note=credit_note,
                                                      actor=actor))
    _print_outcome(outcome)


@click.group(name="payments")
def payments_group() -> None:
    """Unmatched bank entries and debtors' credits."""


@payments_group.command(name="unmatched")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def payments_unmatched_cmd(ctx: click.Context, fmt: str) -> None:
    """Payments with money not yet applied to an invoice: unmatched entries and debtors' credits.

    JSON: a list of {id, external_id, status (unmatched|credit), kind, date, amount, currency,
    unallocated, reference, payer, debtor (code or null), why}, amounts as decimal strings.
    """
    from dunflow.cli import output

    ws = workspace(ctx)
    with ws.engine.connect() as connection:
        rows = unmatched_payments(connection)
    if fmt == "json":
        output.emit_json(rows)
        return
    if not rows:
        click.echo("No unmatched payments or credits.")
        return
    columns = ("id", "date", "amount", "unallocated", "currency", "status", "debtor", "reference", "payer")
    output.emit_table("Unmatched payments and credits", columns,
                      [tuple(row[c] for c in columns) for row in rows])


@payments_group.command(name="assign")
@click.argument("payment_id", metavar="ID", type=int)
@click.argument("invoice")
@click.pass_context
def payments_assign_cmd(ctx: click.Context, payment_id: int, invoice: str) -> None:
    """Apply what is left of payment ID to INVOICE."""
    actor = current_actor()
    _print_outcome(_transaction(ctx, lambda c: assign_payment(c, payment_id, invoice, actor)))


@payments_group.command(name="reverse")
@click.argument("payment_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why, for the audit trail (e.g. 'AC04 account closed', 'cheque bounced').")
@click.option("--date", "on", type=ISO_DATE, default=None, help="Date of the reversal (default: today).")
@click.pass_context
def payments_reverse_cmd(ctx: click.Context, payment_id: int, reason: str, on: date | None) -> None:
    """Take payment ID back: re-open the invoices it paid and resume their dunning where it stood."""
    actor = current_actor()
    ws = workspace(ctx)
    when = on or ws.clock.today(ws.policies.policies[0].settings.timezone)
    reopened = _transaction(ctx, lambda c: reverse_payment(c, payment_id, reason, on=when, actor=actor))
    click.echo(f"payment #{payment_id} reversed ({reason}); re-opened: {', '.join(reopened) or 'nothing'}")


@payments_group.command(name="list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def payments_list_cmd(ctx: click.Context, fmt: str) -> None:
    """Every payment, return and credit note, with its allocations.

    JSON: a list of {id, external_id, kind (payment|credit_note|return), status, date, amount, currency,
    unallocated, reference, payer, payer_iban, debtor, why, source, reversed_on, reversal_reason,
    allocations: [{invoice, amount, on}]}; a reversal shows as a negative allocation.
    """
    from dunflow.cli import output

    with workspace(ctx).engine.connect() as connection:
        rows = list_payments(connection)
    if fmt == "json":
        output.emit_json(rows)
        return
    columns = ("id", "date", "kind", "amount", "currency", "status", "debtor", "allocated to")
    table = [(*(row[c] for c in columns[:-1]),
              ", ".join(f"{a['invoice']} {a['amount']}" for a in row["allocations"])) for row in rows]
    output.emit_table("Payments", columns, table)


payment_group.add_command(payments_reverse_cmd)  # `payment reverse` too, as CLI.md names it
COMMANDS = (payment_group, payments_group)
