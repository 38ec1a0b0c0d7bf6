"""`dunflow tasks`: the collectors' queue (calls, address searches, hand-overs, dead deliveries)."""
from __future__ import annotations

from datetime import date
from typing import Any

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, READ_FORMAT, WRITE_FORMAT, report, workspace

OUTCOMES = ("contacted", "no_answer", "wrong_number", "other")


@click.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(["open", "done", "all"]), default="open", show_default=True,
              help="Which tasks to list.")
@READ_FORMAT
@click.pass_context
def tasks(ctx: click.Context, status: str, fmt: str) -> None:
    """Tasks for people, oldest due first; `dunflow tasks done ID --note TEXT` closes one."""
    if ctx.invoked_subcommand is not None:
        return
    from dunflow.events.tasks import list_tasks

    with workspace(ctx).store.reading() as uow:
        rows = list_tasks(uow, status)
    if fmt == "json":
        output.emit_json(rows)
        return
    output.emit_table(f"Tasks ({status})", ("id", "due", "kind", "debtor", "phone", "invoice", "step", "reason",
                                            "outcome"),
                      [(r["id"], r["due_on"], r["kind"], f"{r['debtor']} {r['debtor_name']}", r["phone"],
                        r["invoice"] or "", r["step"], r["reason"], r["outcome"] or r["status"]) for r in rows])


@tasks.command(name="done")
@click.argument("task_id", metavar="ID", type=int)
@click.option("--note", required=True, help='What happened, e.g. "promised to pay on Friday".')
@click.option("--outcome", type=click.Choice(OUTCOMES), default="other", show_default=True,
              help="contacted may resume or pause the ladder, as the step's on_contacted says.")
@click.option("--as-of", "on", type=ISO_DATE, help="Date it was done (default: today); a pause counts from it.")
@WRITE_FORMAT
@click.pass_context
def tasks_done(ctx: click.Context, task_id: int, note: str, outcome: str, on: date | None, fmt: str) -> None:
    """Close task ID with a note."""
    from dunflow.events.tasks import close_task

    ws = workspace(ctx)
    with ws.store.writing() as uow:
        data = close_task(uow, task_id, outcome, note, on or ws.clock.today())

    def text(data: dict[str, Any]) -> None:
        click.echo(f"task {data['id']} done ({data['outcome']}); dunning {data['ladder']}")

    report(fmt, data, text)


COMMANDS = [tasks]
