"""The `dunflow` command line: parse, call one service, print, exit code.

Exit codes: 0 ok; 1 a user error (printed as `file:line:col: message` or `error: message` with a
hint, never a traceback); 2 wrong usage (click); 3 a crash, i.e. a bug in dunflow (one line, the
traceback in a crash log; `--debug` shows it instead); 130 interrupted.

Only click and the CLI's own small modules are imported at the top: every service (SQLAlchemy,
alembic, Jinja2, Babel, rich, transitions, openpyxl, holidays) is imported inside the command that
needs it, so `dunflow --help` and usage errors answer at once.
"""
from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from dunflow.cli import calc as cli_calc
from dunflow.cli import delivery as cli_delivery
from dunflow.cli import events as cli_events
from dunflow.cli import imports as cli_imports
from dunflow.cli import lifecycle as cli_lifecycle
from dunflow.cli import links as cli_links
from dunflow.cli import output
from dunflow.cli import collection as cli_collection
from dunflow.cli import payments as cli_payments
from dunflow.cli import report as cli_report
from dunflow.cli import rules as cli_rules
from dunflow.cli import simulate as cli_simulate
from dunflow.cli import tasks as cli_tasks
from dunflow.cli.common import (
    ISO_DATE,
    READ_FORMAT,
    WRITE_FORMAT,
    output_format,
    report,
    workspace,
)
from dunflow.cli.crash import report_crash
from dunflow.cli.progress import progress_bar
from dunflow.errors import DunflowError, InputProblems

if TYPE_CHECKING:
    from dunflow.bootstrap import Workspace
    from dunflow.policy.validate import PolicySet

EXIT_USER_ERROR = 1
EXIT_CRASH = 3
EXIT_INTERRUPTED = 130


class DunflowGroup(click.Group):
    """Turns a DunflowError into a clean message and exit 1, a crash into one line, a log and exit 3."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, BrokenPipeError):
            raise  # usage errors, --help, --version, `| head`: click's own handling and exit codes
        except InputProblems as exc:
            output.emit_problems(exc.problems)
            click.echo(f"{sum(p.level == 'error' for p in exc.problems)} error(s); nothing was changed", err=True)
            sys.exit(EXIT_USER_ERROR)
        except DunflowError as exc:
            output.echo(exc.render(), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            report_crash(exc, ctx.params.get("project"))
            sys.exit(EXIT_CRASH)


@click.group(cls=DunflowGroup)
@click.version_option(package_name="dunflow")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), help="Project folder (default: here).")
@click.option("--database", envvar="DUNFLOW_DATABASE_URL", help="SQLAlchemy URL (default: the project's SQLite).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (they are shown only on a terminal anyway).")
@click.option("--debug", is_flag=True, envvar="DUNFLOW_DEBUG",
              help="On a crash show the full traceback instead of writing it to dunflow-crash.log.")
@click.pass_context
def main(ctx: click.Context, project: Path | None, database: str | None, quiet: bool, debug: bool) -> None:
    """dunflow: dunning as code."""
    ctx.ensure_object(dict).update(project=project, database=database, quiet=quiet, debug=debug)
    # a caller's obj may also carry a "clock" (tests, simulations)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-sample-data", is_flag=True, help="Skip the sample debtors and invoices.")
@WRITE_FORMAT
@click.pass_context
def init(ctx: click.Context, directory: Path, no_sample_data: bool, fmt: str) -> None:
    """Create a working project: policies, templates (de/nl/en), sample data and a database."""
    from dunflow.bootstrap import Workspace
    from dunflow.scaffold import init_project

    existed = directory.exists()  # then it is empty (init_project refuses anything else): leave it so
    created = init_project(directory, sample_data=not no_sample_data)
    try:
        cli_lifecycle.apply_files(Workspace.open(directory, ctx.obj["database"], ctx.obj.get("clock")), "dunflow init")
    except DunflowError:  # a project without its database is no project: leave what we found
        for child in directory.iterdir() if existed else ():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        if not existed:
            shutil.rmtree(directory)
        raise
    data = {"project": str(directory), "files": sorted(str(p.relative_to(directory)) for p in created),
            "sample_data": not no_sample_data}
    report(fmt, data, _print_init)


def _print_init(data: dict[str, Any]) -> None:
    click.echo(f"Created project in {data['project']} ({len(data['files'])} files).")
    if data["sample_data"]:
        click.echo(f"Next: cd {data['project']} && dunflow validate && dunflow import debtors debtors.csv "
                   "&& dunflow import invoices invoices.csv && dunflow run --as-of 2026-12-01")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@output_format("text", "json", "github")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], fmt: str) -> None:
    """Check policies (schema, semantics, segment coverage) and render every template once."""
    from dunflow.policy.validate import SMS_MAX_SEGMENTS, check_policies, policy_paths

    ws = workspace(ctx)
    sms = ws.project.channels.get("sms")  # SMS length matters once an SMS provider is configured
    most = int(sms.get("max_segments", SMS_MAX_SEGMENTS)) if sms else None
    files, problems = check_policies(policy_paths(paths or (ws.project.policies_dir,)), ws.templates, ws.project.root,
                                     sms_max_segments=most)
    output.emit_problems(problems, fmt)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        click.echo(f"{len(errors)} error(s) in {len({p.file for p in errors})} file(s)", err=True)
        sys.exit(EXIT_USER_ERROR)
    acknowledged = sum(p.level == "acknowledged" for p in problems)
    warnings = len(problems) - acknowledged
    click.echo(f"ok: {len(files)} policies valid" + (f", {warnings} warning(s)" if warnings else "")
               + (f", {acknowledged} acknowledged" if acknowledged else ""),
               err=fmt != "text")  # json/github output stays parseable


@main.command()
def schema() -> None:
    """Print the policy JSON Schema."""
    from dunflow.policy.schema import schema_file

    click.echo(schema_file().read_text(encoding="utf-8"))


@main.command()
@click.argument("policy")
@output_format("mermaid", "dot")
@click.pass_context
def graph(ctx: click.Context, policy: str, fmt: str) -> None:
    """Print the compiled state machine of POLICY."""
    from dunflow.policy.compile import compile_policy, draw

    ws = workspace(ctx)
    found = ws.policies.by_name(policy)
    if found is None:
        names = ", ".join(p.name for p in ws.policies.policies)
        raise DunflowError(f"unknown policy '{policy}'", f"policies in this project: {names}")
    click.echo(draw(compile_policy(found.policy), fmt))


@main.command()
@click.option("--as-of", "as_of", type=ISO_DATE, help="Run date (default: today in each policy's time zone).")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--send", "send_now", is_flag=True, help="Deliver the messages right after the run.")
@click.option("--force", is_flag=True, help="Allow a run dated before the last completed run.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes sharing the due set (PostgreSQL only).")
@click.option("--worker", "worker", default=None, hidden=True)  # k/n: one of the processes --workers starts
@click.option("--ready", "ready", default=None, hidden=True)  # the file a worker creates once started up
@WRITE_FORMAT
@click.pass_context
def run(ctx: click.Context, as_of: date | None, dry_run: bool, send_now: bool, force: bool, workers: int,
        worker: str | None, ready: str | None, fmt: str) -> None:
    """Advance every due invoice by its policy and queue the notices in the outbox."""
    import tempfile

    from dunflow.cli import workers as cli_workers
    from dunflow.engine.run import record_run, run_due

    ws = workspace(ctx)
    running = _running_policies(ws)
    day = as_of or ws.clock.today(running.policies[0].settings.timezone)
    share = cli_workers.parse_worker(worker) if worker else (0, workers)
    cli_workers.require_shared_database(ws.engine.dialect.name, share[1], dry_run)
    started = ws.store.clock.now()
    with tempfile.TemporaryDirectory(prefix="dunflow-workers-") as folder:
        children = cli_workers.start_workers(ws.project.root, ws.project.database_url, day, workers, force,
                                             Path(folder)) if worker is None and workers > 1 else []
        ws.templates, ws.timers  # noqa: B018 - loaded before the workers start together
        cli_workers.signal_ready(ready)
        cli_workers.wait_until_ready(children, Path(folder))
        try:
            with progress_bar(ctx, f"run {day}") as progress:
                result = run_due(ws.store, ws.templates, ws.project.creditor, day, ws.timers, dry_run=dry_run,
                                 batch_size=ws.project.batch_size, force=force, progress=progress, share=share,
                                 links=ws.payment_links,
                                 record=share[1] == 1)
        except BaseException:
            cli_workers.wait_for(children)  # their work stands; ours is rolled back and still due
            raise
        others = cli_workers.collect(children)
    summary: dict[str, Any] = {"as_of": str(result.as_of), "dry_run": dry_run, "due": result.due,
                               "advanced": result.advanced, "messages": result.messages,
                               "deferred": result.deferred, "waiting": result.waiting, "steps": dict(result.steps),
                               "failed": result.failed}
    if children:
        summary = cli_workers.merged(summary, others)
        record_run(ws.store, day, started, summary["advanced"], summary["messages"])
    if dry_run:
        summary["notices"] = result.notices
    if send_now and not dry_run:
        summary["sent"] = cli_delivery.deliver(ctx, ws, day)
    report(fmt, summary, _print_run)
    if summary["failed"] or summary.get("sent", {}).get("failed"):  # the others went on, but someone must look: 1
        sys.exit(EXIT_USER_ERROR)


def _running_policies(ws: Workspace) -> PolicySet:
    """The policies a run works with: the active versions once applied (drift reported), else the files."""
    from dunflow.policy.active import active_policy_set, is_applied

    with ws.store.reading() as uow:
        active = active_policy_set(uow)[0] if is_applied(uow) else None
    if active is None:
        ws.register_policies()
        return ws.policies
    _warn_drift(ws)
    return active


def _warn_drift(ws: Workspace) -> None:
    notice = cli_lifecycle.drift_notice(ws)
    if notice:
        click.echo(f"warning: {notice}", err=True)


def _print_run(summary: dict[str, Any]) -> None:
    summary = output.printable_data(summary)
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
    if "sent" in summary:
        cli_delivery.print_send(summary["sent"])
    for failed in summary["failed"]:
        click.echo(f"error: invoice {failed['invoice']} left as it was (retried by the next run): {failed['error']}"
                   + (f"\n  hint: {failed['hint']}" if failed["hint"] else ""), err=True)
    if summary["failed"]:
        click.echo(f"{len(summary['failed'])} case(s) failed; `dunflow status` lists them", err=True)


@main.command()
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date for 'due next' (default: today).")
@READ_FORMAT
@click.pass_context
def status(ctx: click.Context, as_of: date | None, fmt: str) -> None:
    """Where the portfolio stands: cases per policy and state, what is due next, the outbox."""
    from dunflow.reporting import report as read

    ws = workspace(ctx)
    with ws.store.reading() as uow:
        data = read.status(uow, as_of or ws.clock.today())
    _warn_drift(ws)
    if fmt == "json":
        output.emit_json(data)
        return
    output.emit_table("Cases", ("policy", "state", "cases"), [(r["policy"], r["state"], r["cases"]) for r in data["cases"]])
    output.emit_table("Due within a week", ("date", "cases"),
                      [(r["date"], r["cases"]) for r in data["due"]])
    click.echo("Outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(data["outbox"].items())) or "empty"))
    if data["failing"]:
        output.emit_table("Failing cases (left as they were, retried by every run)",
                          ("invoice", "debtor", "since", "attempts", "error"),
                          [(r["invoice"], r["debtor"], r["since"], r["attempts"], r["error"]) for r in data["failing"]])


@main.group()
def show() -> None:
    """One invoice's or debtor's timeline, with why and what comes next."""


def _show(ctx: click.Context, fmt: str, query: Callable[[Any], dict[str, Any]],
          render: Callable[[dict[str, Any]], None]) -> None:
    ws = workspace(ctx)
    with ws.store.reading() as uow:
        data = query(uow)
    output.emit_json(data) if fmt == "json" else render(data)


@show.command(name="invoice")
@click.argument("number")
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date the debt (interest) is computed to (default: today).")
@READ_FORMAT
@click.pass_context
def show_invoice_cmd(ctx: click.Context, number: str, as_of: date | None, fmt: str) -> None:
    """Timeline of one invoice, and its debt: principal, charges, total due."""
    from dunflow.reporting import report as read

    _show(ctx, fmt, lambda c: read.show_invoice(c, number, as_of), output.emit_invoice)


@show.command(name="debtor")
@click.argument("code")
@READ_FORMAT
@click.pass_context
def show_debtor_cmd(ctx: click.Context, code: str, fmt: str) -> None:
    """A debtor and the timeline of each of its invoices."""
    from dunflow.reporting import report as read

    def render(data: dict[str, Any]) -> None:
        data = output.printable_data(data)
        click.echo(f"Debtor {data['code']}: {data['name']} ({data['type']}, {data['country']})")
        for invoice in data["invoices"]:
            output.emit_invoice(invoice)

    _show(ctx, fmt, lambda c: read.show_debtor(c, code), render)


for _command in (cli_imports.import_, *cli_delivery.COMMANDS, *cli_events.COMMANDS, *cli_payments.COMMANDS,
                 *cli_lifecycle.COMMANDS, *cli_collection.COMMANDS, *cli_calc.COMMANDS, *cli_rules.COMMANDS,
                 *cli_tasks.COMMANDS, *cli_links.COMMANDS, cli_simulate.simulate, cli_report.report):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
