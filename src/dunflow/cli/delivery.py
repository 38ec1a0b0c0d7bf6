"""`dunflow send` and `dunflow outbox [retry]`: deliver the outbox and look into it.

`send` exits 1 when any message failed (it waits for a retry or is dead): the others went out, but someone
should look. The summary names each failure with its reason.
"""
from __future__ import annotations

import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, READ_FORMAT, WRITE_FORMAT, report, workspace
from dunflow.cli.progress import progress_bar
from dunflow.errors import DunflowError

if TYPE_CHECKING:
    from dunflow.bootstrap import Workspace

EXIT_FAILED = 1
STATES = ("pending", "claimed", "sent", "retry", "dead", "cancelled")


def deliver(ctx: click.Context, ws: Workspace, on: date | None = None, lease: float | None = None,
            batch_size: int | None = None) -> dict[str, Any]:
    """Send what is ready in the outbox (`on`: the delivery date the ladder counts from); the JSON of `send`."""
    from dunflow.delivery.dispatch import send_pending

    for name in ws.project.channels:  # a missing secret or bad sender: an error before anything is claimed
        getattr(ws.channel(name), "close", lambda: None)()
    with progress_bar(ctx, "send") as progress:
        result = send_pending(ws.store, ws.channel, ws.refresher, progress=progress, on=on,
                              settings=ws.send_settings(lease, batch_size), defer=ws.deferral())
    return {"sent": result.sent, "retry": result.retry, "dead": result.dead, "rerendered": result.rerendered,
            "deferred": result.deferred,
            "withdrawn": result.withdrawn, "failed": result.failed, "outbox": str(ws.project.outbox_dir),
            "files_only": not ws.project.channels,
            "failures": [{"id": f.id, "channel": f.channel, "recipient": f.recipient.splitlines()[0] if f.recipient
                          else "", "outcome": f.outcome, "reason": f.reason, "attempts": f.attempts,
                          "next_attempt_at": f.next_attempt_at.isoformat() if f.next_attempt_at else None}
                         for f in result.failures]}


def print_send(data: dict[str, Any]) -> None:
    data = output.printable_data(data)
    extra = [f"{data['rerendered']} re-rendered with today's open amounts" if data["rerendered"] else "",
             f"{data['withdrawn']} withdrawn (none of their invoices still due them)" if data["withdrawn"] else "",
             f"{data['deferred']} waiting for their send window" if data.get("deferred") else "",
             f"{data['retry']} to retry" if data["retry"] else "",
             f"{data['dead']} dead (no more attempts)" if data["dead"] else ""]
    click.echo(f"delivered {data['sent']} message(s)" + (f" to {data['outbox']}" if data["files_only"] else "")
               + "".join(f"; {e}" for e in extra if e))
    for failure in data["failures"]:
        later = f", next attempt {failure['next_attempt_at']}" if failure["next_attempt_at"] else ""
        click.echo(f"  {failure['outcome']}: message {failure['id']} ({failure['channel']} to {failure['recipient']}"
                   f", attempt {failure['attempts']}{later}): {failure['reason']}", err=True)
    if data["failed"]:
        click.echo(f"{data['failed']} message(s) failed; `dunflow outbox --status retry|dead` lists them, "
                   "`dunflow outbox retry ID|--dead` re-queues", err=True)


@click.command()
@click.option("--as-of", "as_of", type=ISO_DATE,
              help="Delivery date the ladder counts from (default: today; never before a message was queued).")
@click.option("--lease", "lease", type=click.FloatRange(1, 86400), default=None,
              help="Seconds a claim on a batch lasts before another sender may take it over (default 300).")
@click.option("--batch-size", "batch_size", type=click.IntRange(1, 100000), default=None,
              help="Messages claimed at a time (default 500).")
@WRITE_FORMAT
@click.pass_context
def send(ctx: click.Context, as_of: date | None, lease: float | None, batch_size: int | None, fmt: str) -> None:
    """Deliver the outbox through the configured channels; exit 1 when any message failed."""
    data = deliver(ctx, workspace(ctx), as_of, lease, batch_size)
    report(fmt, data, print_send)
    if data["failed"]:
        sys.exit(EXIT_FAILED)


@click.group(name="outbox", invoke_without_command=True)
@click.option("--status", type=click.Choice(STATES), default=None, help="Only messages in this state (default: all).")
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@READ_FORMAT
@click.pass_context
def outbox(ctx: click.Context, status: str | None, limit: int, fmt: str) -> None:
    """The outbox, newest first: state, attempts, last error and next attempt of each message."""
    if ctx.invoked_subcommand is not None:
        return
    from dunflow.reporting import report as read

    ws = workspace(ctx)
    with ws.store.reading() as uow:
        rows = read.outbox(uow, status, limit)
    if fmt == "json":
        output.emit_json(rows)
        return
    output.emit_table("Outbox", ("id", "status", "date", "channel", "to", "step", "invoices", "tries", "next", "note"),
                      [(r["id"], r["status"], r["created_on"], r["channel"], r["recipient"], r["step"],
                        ", ".join(r["invoices"]), r["attempts"], r["next_attempt_at"] or "",
                        r["last_error"] or r["routing"]) for r in rows])


@outbox.command(name="retry")
@click.argument("ids", nargs=-1, type=click.IntRange(1))
@click.option("--dead", is_flag=True, help="Every dead message.")
@WRITE_FORMAT
@click.pass_context
def outbox_retry(ctx: click.Context, ids: tuple[int, ...], dead: bool, fmt: str) -> None:
    """Put dead (or waiting) messages back in the queue: due at once, attempts counted from 0 again."""
    if bool(ids) == dead:
        raise DunflowError("name the messages to retry, or --dead for every dead one",
                           "dunflow outbox retry 12 13, or dunflow outbox retry --dead")
    ws = workspace(ctx)
    with ws.store.writing() as uow:
        if ids:
            missing = [i for i in ids if uow.outbox.get(i) is None]
            if missing:
                raise DunflowError(f"no outbox message {', '.join(map(str, missing))}", "see `dunflow outbox`")
        requeued = uow.outbox.requeue(list(ids) if ids else None, dead=dead)
    skipped = sorted(set(ids) - set(requeued))
    report(fmt, {"requeued": sorted(requeued), "skipped": skipped}, _print_retry)


def _print_retry(data: dict[str, Any]) -> None:
    click.echo(f"re-queued {len(data['requeued'])} message(s)" + (
        f"; {', '.join(map(str, data['skipped']))} not dead or waiting for a retry, left as they are"
        if data["skipped"] else "") + ("; `dunflow send` delivers them" if data["requeued"] else ""))


COMMANDS = (send, outbox)
