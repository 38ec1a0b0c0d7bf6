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

from dunflow.cli.common import ISO_DATE, parse_amount, workspace
from dunflow.errors import DunflowError
from dunflow.events.firing import current_actor
from dunflow.ledger.payments import (
    PaymentOutcome,
    PaymentReport,
    add_payment,
    assign_payment,
    import_payments,
    money_text,
    unmatched_payments,
)
from dunflow.store.uow import DuplicateWrite

CONCURRENT_HINT = "another command recorded the same payment at the same time; run this command again"


def _transaction(ctx: click.Context, work: Any) -> Any:
    """Run `work(uow)` in one unit of work; a unique-key race becomes a user error, not a traceback."""
    ws = workspace(ctx)
    try:
        with ws.store.writing() as uow:
            return work(uow)
    except DuplicateWrite:
        raise DunflowError("the payment was recorded concurrently; nothing was changed", CONCURRENT_HINT) from None


@click.command(name="payments")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "camt053"]), default=None,
              help="Default: sniffed (.xml is camt.053).")
@click.pass_context
def import_payments_cmd(ctx: click.Context, file: Path, fmt: str | None) -> None:
    """Record bank entries (canonical CSV/XLSX or camt.053) and match them to invoices."""
    actor = current_actor()
    report: PaymentReport = _transaction(ctx, lambda c: import_payments(c, file, fmt, actor))
    click.echo(f"payments: {report.recorded} recorded ({report.count('matched')} matched, "
               f"{report.count('credit')} with a credit left, {report.count('unmatched')} unmatched), "
               f"{report.already_imported} already imported")
    for outcome in report.outcomes:
        if outcome.status != "matched":
            click.echo("  " + _leftover(outcome))
    for external_id in report.changed:
        click.echo(f"warning: payment '{external_id}' was imported before with another date or amount; "
                   "the first one is kept", err=True)
    if report.count("unmatched") or report.count("credit"):
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
    with ws.store.reading() as uow:
        rows = unmatched_payments(uow)
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


COMMANDS = (payment_group, payments_group)
