"""The hand-over commands: `collection list|export|recall` (thin: parse, call `ledger.collection`, print)."""
from __future__ import annotations

from datetime import date

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, READ_FORMAT, WRITE_FORMAT, report, workspace


@click.group(name="collection")
def collection_group() -> None:
    """Invoices handed over to a collection agency: list, export case files, recall."""


@collection_group.command(name="list")
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date the total due is computed to (default: today).")
@READ_FORMAT
@click.pass_context
def collection_list_cmd(ctx: click.Context, as_of: date | None, fmt: str) -> None:
    """Every invoice in collection (or recalled), its agency and total due.

    JSON: a list of {invoice, debtor, agency, status (in_collection|recalled), handed_on, recalled_on,
    recall_reason, currency, total_due, exported_at}.
    """
    from dunflow.ledger.collection import list_collection

    ws = workspace(ctx)
    with ws.store.reading() as uow:
        rows = list_collection(uow, as_of or uow.clock.today())
    if fmt == "json":
        output.emit_json(rows)
        return
    columns = ("invoice", "debtor", "agency", "status", "handed_on", "total_due", "currency", "exported_at")
    output.emit_table("In collection", columns, [tuple(row[c] or "" for c in columns) for row in rows])


@collection_group.command(name="export")
@click.option("--agency", default=None, help="Only the invoices handed over to this agency.")
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date the charges are computed to (default: today).")
@WRITE_FORMAT
@click.pass_context
def collection_export_cmd(ctx: click.Context, agency: str | None, as_of: date | None, fmt: str) -> None:
    """Write a case file per debtor (JSON and/or CSV, per the agency's profile in dunflow.yaml); payments
    recorded since the hand-over are reported once, in the next export."""
    from dunflow.ledger.collection import export

    ws = workspace(ctx)
    with ws.store.writing() as uow:
        written = export(uow, ws.project.agencies, ws.project.root, as_of or uow.clock.today(), agency)

    if fmt == "json":
        output.emit_json(written)
        return
    if not written:
        click.echo("nothing in collection: no case file written")
    for row in written:
        click.echo(f"{row['agency']}: {row['debtor']} ({', '.join(row['invoices'])}) → {', '.join(row['files'])}; "
                   f"{row['new_payments']} new payment(s)")


@collection_group.command(name="recall")
@click.argument("invoice")
@click.option("--reason", required=True, help="Why the claim is taken back from the agency (audit trail).")
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date of the recall (default: today).")
@WRITE_FORMAT
@click.pass_context
def collection_recall_cmd(ctx: click.Context, invoice: str, reason: str, as_of: date | None, fmt: str) -> None:
    """Take INVOICE back from the agency: it leaves the exports (dunning does not resume by itself)."""
    from dunflow.ledger.collection import recall

    ws = workspace(ctx)
    with ws.store.writing() as uow:
        data = recall(uow, invoice, reason, as_of or uow.clock.today())
    report(fmt, data, lambda d: click.echo(f"{d['invoice']} recalled from {d['agency']}: {d['reason']}"))


COMMANDS = (collection_group,)
