"""CLI commands for debtor events: disputes, promises, holds and payment arrangements.

Each command is one transaction: it succeeds entirely or changes nothing. `--format json` prints
what it did (see README, 'JSON output'). Services are imported inside the commands so that
`dunflow --help` stays fast.
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

if TYPE_CHECKING:
    from dunflow.store.uow import UnitOfWork

DATE_HELP = "Date the event happened (default: today). --date is the older name of --as-of."


def as_of_option(*older: str) -> Callable[[Any], Any]:
    """`--as-of` (as on every command that records something), and the command's older name for it."""
    return click.option("--as-of", *older, "on", type=ISO_DATE, help=DATE_HELP.replace("--date", "/".join(older)))


def _in_transaction(ctx: click.Context, work: Callable[[UnitOfWork, date], Any], on: date | None) -> Any:
    """One unit of work, dated `on` or today by the workspace's clock.

    Events act on cases under the policy versions already stored with them: no policy loading needed.
    """
    ws = workspace(ctx)
    with ws.store.writing() as uow:
        return work(uow, on or ws.clock.today())


def _reading(ctx: click.Context, work: Callable[[UnitOfWork], Any]) -> Any:
    with workspace(ctx).store.reading() as uow:
        return work(uow)


@click.group()
def dispute() -> None:
    """Open or resolve a dispute on an invoice (dunning pauses meanwhile)."""


@dispute.command(name="open")
@click.argument("invoice")
@click.option("--reason", required=True, help='Why, e.g. "goods not delivered".')
@as_of_option("--date")
@WRITE_FORMAT
@click.pass_context
def dispute_open(ctx: click.Context, invoice: str, reason: str, on: date | None, fmt: str) -> None:
    """Pause INVOICE because the debtor contests it."""
    from dunflow.events.disputes import open_dispute

    state = _in_transaction(ctx, lambda c, d: open_dispute(c, invoice, reason, d), on)
    report(fmt, {"invoice": invoice, "state": state, "reason": reason},
           lambda d: click.echo(f"{invoice}: {state} ({reason})"))


@dispute.command(name="resolve")
@click.argument("invoice")
@click.option("--resume", "outcome", flag_value="resume", help="Dunning resumes as the policy says.")
@click.option("--cancel", "outcome", flag_value="cancel", help="The invoice is cancelled / credited.")
@click.option("--note", default="", help="What was agreed.")
@as_of_option("--date")
@WRITE_FORMAT
@click.pass_context
def dispute_resolve(ctx: click.Context, invoice: str, outcome: str | None, note: str, on: date | None,
                    fmt: str) -> None:
    """End the dispute on INVOICE: resume dunning or cancel the invoice."""
    from dunflow.events.disputes import resolve_dispute

    if outcome is None:
        raise click.UsageError("say how the dispute ends: --resume or --cancel")
    state = _in_transaction(ctx, lambda c, d: resolve_dispute(c, invoice, outcome == "resume", d, note), on)
    report(fmt, {"invoice": invoice, "state": state, "outcome": outcome},
           lambda d: click.echo(f"{invoice}: {state}"))


@click.command()
@click.argument("invoice")
@click.option("--date", "pay_by", type=ISO_DATE, required=True, help="The date the debtor promised to pay by.")
@click.option("--amount", default=None, help="Promised amount (default: the whole open amount).")
@as_of_option("--on")
@WRITE_FORMAT
@click.pass_context
def promise(ctx: click.Context, invoice: str, pay_by: date, amount: str | None, on: date | None, fmt: str) -> None:
    """Record a promise to pay: no notices until the date plus the policy's grace period."""
    from dunflow.events.promises import make_promise

    value = parse_amount(amount) if amount is not None else None
    check_on = _in_transaction(ctx, lambda c, d: make_promise(c, invoice, pay_by, value, d), on)
    data = {"invoice": invoice, "pay_by": str(pay_by), "amount": None if value is None else str(value),
            "check_on": str(check_on)}
    report(fmt, data, lambda d: click.echo(f"{invoice}: promised by {pay_by}; checked on {check_on}"))


@click.command()
@click.argument("debtor")
@click.option("--until", type=ISO_DATE, default=None, help="End of the hold (default: until released).")
@click.option("--reason", required=True)
@as_of_option("--date")
@WRITE_FORMAT
@click.pass_context
def hold(ctx: click.Context, debtor: str, until: date | None, reason: str, on: date | None, fmt: str) -> None:
    """Pause every invoice of DEBTOR until a date or until released."""
    from dunflow.events.holds import place_hold

    count = _in_transaction(ctx, lambda c, d: place_hold(c, debtor, until, reason, d), on)
    data = {"debtor": debtor, "until": None if until is None else str(until), "reason": reason, "invoices": count}
    report(fmt, data, lambda d: click.echo(f"{debtor}: on hold {'until ' + str(until) if until else 'until released'}"
                                           f"; {count} invoice(s) paused"))


@click.command()
@click.argument("debtor")
@as_of_option("--date")
@WRITE_FORMAT
@click.pass_context
def release(ctx: click.Context, debtor: str, on: date | None, fmt: str) -> None:
    """Lift DEBTOR's hold: dunning resumes."""
    from dunflow.events.holds import release_debtor

    count = _in_transaction(ctx, lambda c, d: release_debtor(c, debtor, d), on)
    report(fmt, {"debtor": debtor, "invoices": count},
           lambda d: click.echo(f"{debtor}: released; {count} invoice(s) resume"))


@click.group()
def arrangement() -> None:
    """Payment arrangements (installment plans)."""


@arrangement.command(name="create")
@click.argument("invoices", nargs=-1, required=True)
@click.option("--installments", type=click.IntRange(1, 120), required=True)
@click.option("--first-due", type=ISO_DATE, required=True)
@click.option("--every", default="1m", show_default=True, help="1m, 2w, 14d …")
@as_of_option("--date")
@WRITE_FORMAT
@click.pass_context
def arrangement_create(ctx: click.Context, invoices: tuple[str, ...], installments: int, first_due: date,
                       every: str, on: date | None, fmt: str) -> None:
    """Put INVOICES (one debtor, one currency) on an installment plan."""
    from dunflow.events.arrangements import create_arrangement

    new_id = _in_transaction(ctx, lambda c, d: create_arrangement(c, list(invoices), installments, first_due,
                                                                  every, d), on)
    data = {"arrangement": new_id, "invoices": list(invoices), "installments": installments,
            "first_due": str(first_due), "every": every}
    report(fmt, data, lambda d: click.echo(f"arrangement {new_id}: {installments} installments from {first_due} "
                                           f"every {every}"))


@arrangement.command(name="show")
@click.argument("arrangement_id", type=int)
@READ_FORMAT
@click.pass_context
def arrangement_show(ctx: click.Context, arrangement_id: int, fmt: str) -> None:
    """An arrangement, its invoices and installments."""
    from dunflow.events.arrangements import show_arrangement

    data = _reading(ctx, lambda uow: show_arrangement(uow, arrangement_id))
    if fmt == "json":
        output.emit_json(data)
        return
    click.echo(f"Arrangement {data['id']} ({data['status']}): {', '.join(data['invoices'])}, "
               f"total {data['total']} {data['currency']}, every {data['every']}, missed {data['missed']}")
    output.emit_table("Installments", ("#", "due", "amount", "paid", "status"),
                      [(i["number"], i["due_date"], i["amount"], i["paid"], i["status"]) for i in data["installments"]])


COMMANDS = (dispute, promise, hold, release, arrangement)
