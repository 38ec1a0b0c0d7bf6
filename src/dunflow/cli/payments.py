"""The payment commands: `payments add|unmatched|assign|reverse|list` (`payment` is kept as a hidden alias).

`import payments` lives with the other imports (imports.py) and shares the helpers here. Each
writing command is one transaction: it succeeds entirely or changes nothing. Printing happens here
and in output.py only. Services are imported inside the commands so `dunflow --help` stays fast.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Callable

import click

from dunflow.cli import output
from dunflow.cli.common import (
    ISO_DATE,
    READ_FORMAT,
    WRITE_FORMAT,
    parse_amount,
    report,
    workspace,
)
from dunflow.errors import DunflowError

if TYPE_CHECKING:
    from dunflow.ledger.payments import PaymentOutcome
    from dunflow.store.uow import UnitOfWork

CONCURRENT_HINT = "another command recorded the same payment at the same time; run this command again"


def recorded_once(ctx: click.Context, work: Callable[[UnitOfWork], Any]) -> Any:
    """Run `work(uow)` in one unit of work; a unique-key race becomes a user error, not a traceback."""
    from dunflow.store.uow import DuplicateWrite, retrying

    ws = workspace(ctx)

    def once() -> Any:
        with ws.store.writing() as uow:
            return work(uow)

    try:
        return retrying("recording payments", once)
    except DuplicateWrite:
        raise DunflowError("the payment was recorded concurrently; nothing was changed", CONCURRENT_HINT) from None


def outcome_json(outcome: PaymentOutcome) -> dict[str, Any]:
    """One recorded payment as JSON: amounts as decimal strings in the currency's minor unit."""
    from dunflow.ledger.payments import outcome_json as as_json

    return as_json(outcome)


def leftover_text(outcome: PaymentOutcome) -> str:
    from dunflow.ledger.payments import money_text

    left = f"{money_text(outcome.unallocated, outcome.currency)} {outcome.currency}"
    if outcome.status == "credit":
        return f"#{outcome.payment_id} {outcome.external_id}: {left} left as a credit for the debtor"
    return f"#{outcome.payment_id} {outcome.external_id}: {left} unmatched ({outcome.matched_by})"


def _print_outcome(outcome: PaymentOutcome) -> None:
    data = output.printable_data(outcome_json(outcome))
    what = "credit note" if outcome.kind == "credit_note" else "payment"
    click.echo(f"{what} #{data['id']} '{data['external_id']}': {data['amount']} {data['currency']}")
    for applied in data["applied"]:
        click.echo(f"  {applied['invoice']}: {applied['amount']} applied, {applied['open_amount']} open, "
                   f"state {applied['state']}")
    if outcome.status != "matched":
        output.echo("  " + leftover_text(outcome))


def _emit_outcome(fmt: str, outcome: PaymentOutcome) -> None:
    report(fmt, outcome_json(outcome), lambda _: _print_outcome(outcome))


@click.group(name="payments")
def payments_group() -> None:
    """Record payments by hand, list unmatched bank entries and credits, assign them."""


@payments_group.command(name="add")
@click.argument("invoice")
@click.argument("amount")
@click.option("--date", "on", required=True, type=ISO_DATE, help="Date the money arrived (YYYY-MM-DD).")
@click.option("--reference", default=None,
              help="Unique reference (e.g. the bank's); a second payment with it is refused.")
@click.option("--credit-note", is_flag=True, help="Record a credit note instead of a payment.")
@WRITE_FORMAT
@click.pass_context
def payment_add_cmd(ctx: click.Context, invoice: str, amount: str, on: date, reference: str | None,
                    credit_note: bool, fmt: str) -> None:
    """Record AMOUNT received for INVOICE; any surplus goes to the debtor's other open invoices."""
    from dunflow.events.firing import current_actor
    from dunflow.ledger.payments import add_payment

    value = parse_amount(amount)
    actor = current_actor()
    outcome = recorded_once(ctx, lambda c: add_payment(c, invoice, value, on, reference, credit_note=credit_note,
                                                       actor=actor))
    _emit_outcome(fmt, outcome)


@payments_group.command(name="unmatched")
@READ_FORMAT
@click.pass_context
def payments_unmatched_cmd(ctx: click.Context, fmt: str) -> None:
    """Payments with money not yet applied to an invoice: unmatched entries and debtors' credits.

    JSON: a list of {id, external_id, status (unmatched|credit), kind, date, amount, currency,
    unallocated, reference, payer, debtor (code or null), why}, amounts as decimal strings.
    """
    from dunflow.cli import output
    from dunflow.ledger.payments import unmatched_payments

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
@WRITE_FORMAT
@click.pass_context
def payments_assign_cmd(ctx: click.Context, payment_id: int, invoice: str, fmt: str) -> None:
    """Apply what is left of payment ID to INVOICE."""
    from dunflow.events.firing import current_actor
    from dunflow.ledger.payments import assign_payment

    actor = current_actor()
    _emit_outcome(fmt, recorded_once(ctx, lambda c: assign_payment(c, payment_id, invoice, actor)))


@payments_group.command(name="reverse")
@click.argument("payment_id", metavar="ID", type=int)
@click.option("--reason", required=True, help="Why, for the audit trail (e.g. 'AC04 account closed', 'cheque bounced').")
@click.option("--as-of", "--date", "on", type=ISO_DATE, default=None,
              help="Date of the reversal (default: today; --date is the older spelling).")
@WRITE_FORMAT
@click.pass_context
def payments_reverse_cmd(ctx: click.Context, payment_id: int, reason: str, on: date | None, fmt: str) -> None:
    """Take payment ID back: re-open the invoices it paid and resume their dunning where it stood."""
    from dunflow.events.firing import current_actor
    from dunflow.ledger.payments import reverse_payment

    actor = current_actor()
    ws = workspace(ctx)
    when = on or ws.clock.today(ws.policies.policies[0].settings.timezone)
    reopened = recorded_once(ctx, lambda c: reverse_payment(c, payment_id, reason, on=when, actor=actor))
    data = {"id": payment_id, "reason": reason, "date": when.isoformat(), "reopened": list(reopened)}
    report(fmt, data, lambda d: click.echo(f"payment #{payment_id} reversed ({reason}); "
                                           f"re-opened: {', '.join(d['reopened']) or 'nothing'}"))


@payments_group.command(name="list")
@READ_FORMAT
@click.pass_context
def payments_list_cmd(ctx: click.Context, fmt: str) -> None:
    """Every payment, return and credit note, with its allocations.

    JSON: a list of {id, external_id, kind (payment|credit_note|return), status, date, amount, currency,
    unallocated, reference, payer, payer_iban, debtor, why, source, reversed_on, reversal_reason,
    allocations: [{invoice, amount, on}]}; a reversal shows as a negative allocation.
    """
    from dunflow.cli import output
    from dunflow.ledger.payments import list_payments

    with workspace(ctx).store.reading() as uow:
        rows = list_payments(uow)
    if fmt == "json":
        output.emit_json(rows)
        return
    columns = ("id", "date", "kind", "amount", "currency", "status", "debtor", "allocated to")
    table = [(*(row[c] for c in columns[:-1]),
              ", ".join(f"{a['invoice']} {a['amount']}" for a in row["allocations"])) for row in rows]
    output.emit_table("Payments", columns, table)


# The old spelling `dunflow payment add …`: the same commands (one shared dict), hidden from --help.
payment_group = click.Group(name="payment", commands=payments_group.commands, hidden=True,
                            help="Alias of `dunflow payments`.")

COMMANDS = (payments_group, payment_group)
