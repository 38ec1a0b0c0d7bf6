"""The `dunflow` command line: parse, call one service, print, exit code.

Exit codes: 0 ok; 1 a user error (printed as `file:line:col: message` or
`error: message` with a hint, never a traceback); 2 wrong usage (click).
"""
from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable

import click

from dunflow.bootstrap import Workspace
from dunflow.cli import events as cli_events
from dunflow.cli import output
from dunflow.cli import payments as cli_payments
from dunflow.cli.common import ISO_DATE, workspace
from dunflow.delivery.dispatch import send_pending
from dunflow.engine.run import run_due
from dunflow.errors import DunflowError, InputProblems
from dunflow.ledger.invoices import import_debtors, import_invoices
from dunflow.policy.compile import compile_policy, draw
from dunflow.policy.schema import schema_file
from dunflow.policy.validate import check_policies, policy_paths
from dunflow.policy.versions import register_policies
from dunflow.reporting import report as read
from dunflow.scaffold import init_project


class DunflowGroup(click.Group):
    """Turns every DunflowError into a clean message and exit code 1; bugs keep their traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InputProblems as exc:
            output.emit_problems(exc.problems)
            click.echo(f"{sum(p.level == 'error' for p in exc.problems)} error(s); nothing was changed", err=True)
            sys.exit(1)
        except DunflowError as exc:
            click.echo(exc.render(), err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)


@click.group(cls=DunflowGroup)
@click.version_option(package_name="dunflow")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), help="Project folder (default: here).")
@click.option("--database", envvar="DUNFLOW_DATABASE_URL", help="SQLAlchemy URL (default: the project's SQLite).")
@click.pass_context
def main(ctx: click.Context, project: Path | None, database: str | None) -> None:
    """dunflow: dunning as code."""
    ctx.obj = {"project": project, "database": database}


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-sample-data", is_flag=True, help="Skip the sample debtors and invoices.")
@click.pass_context
def init(ctx: click.Context, directory: Path, no_sample_data: bool) -> None:
    """Create a working project: policies, templates (de/nl/en), sample data and a database."""
    created = init_project(directory, sample_data=not no_sample_data)
    try:
        Workspace.open(directory, ctx.obj["database"]).engine  # creates and migrates the database
    except DunflowError:
        shutil.rmtree(directory)  # a project without its database is no project: leave nothing behind
        raise
    click.echo(f"Created project in {directory} ({len(created)} files).")
    if not no_sample_data:
        click.echo(f"Next: cd {directory} && dunflow validate && dunflow import debtors debtors.csv "
                   "&& dunflow import invoices invoices.csv && dunflow run --as-of 2026-12-01")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True)
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], fmt: str) -> None:
    """Check policies (schema, semantics, segment coverage) and render every template once."""
    ws = workspace(ctx)
    files, problems = check_policies(policy_paths(paths or (ws.project.policies_dir,)), ws.templates, ws.project.root)
    output.emit_problems(problems, fmt)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        click.echo(f"{len(errors)} error(s) in {len({p.file for p in errors})} file(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(files)} policies valid" + (f", {len(problems)} warning(s)" if problems else ""))


@main.command()
def schema() -> None:
    """Print the policy JSON Schema."""
    click.echo(schema_file().read_text(encoding="utf-8"))


@main.command()
@click.argument("policy")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.pass_context
def graph(ctx: click.Context, policy: str, fmt: str) -> None:
    """Print the compiled state machine of POLICY."""
    ws = workspace(ctx)
    found = ws.policies.by_name(policy)
    if found is None:
        names = ", ".join(p.name for p in ws.policies.policies)
        raise DunflowError(f"unknown policy '{policy}'", f"policies in this project: {names}")
    click.echo(draw(compile_policy(found.policy), fmt))


@main.group(name="import")
def import_() -> None:
    """Load debtors, invoices or payments from CSV / XLSX (payments also camt.053)."""


@import_.command(name="debtors")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None, help="Default: sniffed.")
@click.pass_context
def import_debtors_cmd(ctx: click.Context, file: Path, fmt: str | None) -> None:
    """Create or update debtors."""
    ws = workspace(ctx)
    with ws.engine.begin() as connection:
        result = import_debtors(connection, file, fmt)
    click.echo(f"debtors: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@import_.command(name="invoices")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None, help="Default: sniffed.")
@click.pass_context
def import_invoices_cmd(ctx: click.Context, file: Path, fmt: str | None) -> None:
    """Load invoices (and unknown debtors given in debtor_* columns); each open invoice gets a dunning case."""
    ws = workspace(ctx)
    with ws.engine.begin() as connection:
        versions = register_policies(connection, ws.policies)
        result = import_invoices(connection, file, ws.policies, versions, fmt)
    click.echo(f"invoices: {result.created} imported, {result.unchanged} already known"
               + (f"; {result.debtors_created} new debtors" if result.debtors_created else ""))


@main.command()
@click.option("--as-of", "as_of", type=ISO_DATE, help="Run date (default: today in each policy's time zone).")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--send", "send_now", is_flag=True, help="Deliver the messages right after the run.")
@click.option("--force", is_flag=True, help="Allow a run dated before the last completed run.")
@FORMAT
@click.pass_context
def run(ctx: click.Context, as_of: date | None, dry_run: bool, send_now: bool, force: bool, fmt: str) -> None:
    """Advance every due invoice by its policy and queue the notices in the outbox."""
    ws = workspace(ctx)
    ws.register_policies()
    day = as_of or ws.clock.today(ws.policies.policies[0].settings.timezone)
    result = run_due(ws.engine, ws.templates, ws.project.creditor, day, ws.clock, dry_run=dry_run,
                     batch_size=ws.project.batch_size, force=force)
    summary = {"as_of": str(result.as_of), "dry_run": dry_run, "due": result.due, "advanced": result.advanced,
               "messages": result.messages, "deferred": result.deferred, "waiting": result.waiting,
               "steps": dict(result.steps)}
    if dry_run:
        summary["notices"] = result.notices
    if fmt == "json":
        output.emit_json(summary)
    else:
        _print_run(summary)
    if send_now and not dry_run:
        _send(ws, day)


def _print_run(summary: dict[str, Any]) -> None:
    prefix = "dry run: would advance" if summary["dry_run"] else "advanced"
    click.echo(f"{summary['as_of']}: {summary['due']} due, {prefix} {summary['advanced']}, "
               f"{summary['messages']} message(s) queued" + (f", {summary['deferred']} deferred (not a business day)"
                                                            if summary["deferred"] else "")
               + (f", {summary['waiting']} waiting for their last notice to be delivered" if summary["waiting"] else ""))
    for step, count in sorted(summary["steps"].items()):
        click.echo(f"  {step}: {count}")
    for notice in summary.get("notices", []):
        click.echo(f"  would send {notice['step']} by {notice['channel']} to {notice['recipient'].splitlines()[0]}: "
                   f"{notice['subject']}")


def _send(ws: Workspace, on: date | None = None) -> None:
    result = send_pending(ws.engine, ws.channel, ws.clock.now, ws.refresher, on=on)
    extra = [f"{result.rerendered} re-rendered with today's open amounts" if result.rerendered else "",
             f"{result.withdrawn} withdrawn (none of their invoices still due them)" if result.withdrawn else "",
             f"{result.failed} failed (will retry)" if result.failed else ""]
    click.echo(f"delivered {result.sent} message(s) to {ws.project.outbox_dir}" +
               "".join(f"; {e}" for e in extra if e))


@main.command()
@click.option("--as-of", "as_of", type=ISO_DATE,
              help="Delivery date the ladder counts from (default: today; never before a message was queued).")
@click.pass_context
def send(ctx: click.Context, as_of: date | None) -> None:
    """Deliver pending outbox messages (for now: files in the project's outbox folder)."""
    _send(workspace(ctx), as_of)


@main.command()
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date for 'due next' (default: today).")
@FORMAT
@click.pass_context
def status(ctx: click.Context, as_of: date | None, fmt: str) -> None:
    """Where the portfolio stands: cases per policy and state, what is due next, the outbox."""
    ws = workspace(ctx)
    with ws.engine.connect() as connection:
        data = read.status(connection, as_of or date.today())
    if fmt == "json":
        output.emit_json(data)
        return
    output.emit_table("Cases", ("policy", "state", "cases"), [(r["policy"], r["state"], r["cases"]) for r in data["cases"]])
    output.emit_table("Due within a week", ("date", "cases"),
                      [(r["date"], r["cases"]) for r in data["due"]])
    click.echo("Outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(data["outbox"].items())) or "empty"))


@main.command(name="outbox")
@click.option("--status", type=click.Choice(["pending", "sent", "cancelled"]), default=None,
              help="Only messages in this state (default: all).")
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@FORMAT
@click.pass_context
def outbox_cmd(ctx: click.Context, status: str | None, limit: int, fmt: str) -> None:
    """The outbox, newest first: queued, delivered and withdrawn messages."""
    ws = workspace(ctx)
    with ws.engine.connect() as connection:
        rows = read.outbox(connection, status, limit)
    if fmt == "json":
        output.emit_json(rows)
        return
    output.emit_table("Outbox", ("id", "status", "date", "channel", "to", "step", "invoices", "note"),
                      [(r["id"], r["status"], r["created_on"], r["channel"], r["recipient"], r["step"],
                        ", ".join(r["invoices"]), r["note"] or r["routing"]) for r in rows])


@main.group()
def show() -> None:
    """One invoice's or debtor's timeline, with why and what comes next."""


def _show(ctx: click.Context, fmt: str, query: Callable[[Any], dict[str, Any]],
          render: Callable[[dict[str, Any]], None]) -> None:
    ws = workspace(ctx)
    with ws.engine.connect() as connection:
        data = query(connection)
    output.emit_json(data) if fmt == "json" else render(data)


@show.command(name="invoice")
@click.argument("number")
@FORMAT
@click.pass_context
def show_invoice_cmd(ctx: click.Context, number: str, fmt: str) -> None:
    """Timeline of one invoice."""
    _show(ctx, fmt, lambda c: read.show_invoice(c, number), output.emit_invoice)


@show.command(name="debtor")
@click.argument("code")
@FORMAT
@click.pass_context
def show_debtor_cmd(ctx: click.Context, code: str, fmt: str) -> None:
    """A debtor and the timeline of each of its invoices."""
    def render(data: dict[str, Any]) -> None:
        click.echo(f"Debtor {data['code']}: {data['name']} ({data['type']}, {data['country']})")
        for invoice in data["invoices"]:
            output.emit_invoice(invoice)

    _show(ctx, fmt, lambda c: read.show_debtor(c, code), render)


for _command in (*cli_events.COMMANDS, *cli_payments.COMMANDS):
    main.add_command(_command)
import_.add_command(cli_payments.import_payments_cmd)

if __name__ == "__main__":  # pragma: no cover
    main()
