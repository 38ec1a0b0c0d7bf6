"""CLI for the policy lifecycle: `plan`, `apply`, `policies list|history|show`, `test`.

`plan --detailed-exitcode` exits 0 (no changes), 2 (changes) or 1 (errors), as in Terraform.
`apply` asks on a terminal unless `--auto-approve`, and refuses when there is no terminal.

Like every command module this one is imported by `dunflow --help`: the services (plan, apply,
the store, the policy tests) are imported inside the commands.
"""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dunflow.cli import output
from dunflow.cli.common import (
    ISO_DATE,
    READ_FORMAT,
    WRITE_FORMAT,
    output_format,
    report,
    workspace,
)
from dunflow.errors import DunflowError, InputProblems

if TYPE_CHECKING:
    from dunflow.bootstrap import Workspace
    from dunflow.policy.plan import Plan

MESSAGE_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT")  # what CI systems call the commit


def plan_for(ws: Workspace, as_of: date | None) -> Plan:
    from dunflow.policy.plan import compute_plan

    day = as_of or ws.clock.today(ws.policies.policies[0].settings.timezone)
    with ws.store.reading() as uow:
        return compute_plan(uow, ws.policies, day)


def _project(ctx: click.Context, directory: Path | None) -> Workspace:
    """The project named by a DIR argument (as in `terraform plan DIR`), else by --project / the current folder."""
    if directory is not None:
        ctx.obj["project"] = directory
    return workspace(ctx)


@click.command()
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan for `dunflow apply`.")
@output_format("text", "json")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 without changes, 2 with changes, 1 on errors.")
@click.option("--as-of", "as_of", type=ISO_DATE, help="Date of the next run the impact is computed for (default: today).")
@click.pass_context
def plan(ctx: click.Context, directory: Path | None, out: Path | None, fmt: str, detailed_exitcode: bool,
         as_of: date | None) -> None:
    """Show what applying the policy files of project DIRECTORY (default: here) would change: the diff, and
    the invoices in flight it moves."""
    from dunflow.cli.plan_text import render_plan
    from dunflow.policy.plan import canonical

    result = plan_for(_project(ctx, directory), as_of)
    if out is not None:
        out.write_text(canonical(result.to_dict()) + "\n", encoding="utf-8")
    if fmt == "json":
        output.emit_json(result.to_dict())
    else:
        click.echo(render_plan(result))
    if out is not None:
        click.echo(f"Saved the plan to {out}; apply it with `dunflow apply {out}`.", err=True)
    if detailed_exitcode and result.has_changes:
        sys.exit(2)


def _message(given: str | None) -> str:
    if given:
        return given
    return next((f"{name}={os.environ[name]}" for name in MESSAGE_VARIABLES if os.environ.get(name)), "")


@click.command()
@click.argument("target", required=False, type=click.Path(exists=True, path_type=Path), metavar="[DIR|PLAN_FILE]")
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--message", "-m", help="Why (default: the commit from GITHUB_SHA / CI_COMMIT_SHA / GIT_COMMIT).")
@WRITE_FORMAT
@click.pass_context
def apply(ctx: click.Context, target: Path | None, auto_approve: bool, message: str | None, fmt: str) -> None:
    """Apply exactly what a plan showed (PLAN_FILE from `plan --out`, or a fresh plan of project DIR), in one
    transaction."""
    from dunflow.cli.plan_text import render_plan
    from dunflow.events.firing import current_actor
    from dunflow.policy.apply import SavedPlan, apply_plan

    plan_file = target if target is not None and target.is_file() else None
    ws = _project(ctx, target if target is not None and target.is_dir() else None)
    if plan_file is not None:
        saved = SavedPlan.read(plan_file)
        shown = f"the plan in {plan_file} (digest {saved.digest[:12]})"
    else:
        fresh = plan_for(ws, None)
        click.echo(render_plan(fresh), err=fmt == "json")  # stdout stays one JSON document
        if not fresh.has_changes:
            report(fmt, _applied_json(fresh, False), lambda d: None)
            return
        saved, shown = SavedPlan.of(fresh), "this plan"
    if not auto_approve:
        click.echo(f"dunflow will apply {shown}.", err=fmt == "json")
        _confirm_saved()
    done = apply_plan(ws.store, ws.policies, saved, current_actor(), _message(message))
    report(fmt, _applied_json(done, done.has_changes), _print_applied)


def _applied_json(done: Plan, applied: bool) -> dict[str, Any]:
    return {"applied": applied, "digest": done.digest, "as_of": str(done.as_of),
            "changes": [{"policy": c.name, "change": c.change, "from_version": c.from_version,
                         "to_version": c.to_version} for c in done.changes],
            "moved": len(done.moves)}


def _print_applied(data: dict[str, Any]) -> None:
    if not data["applied"]:
        click.echo("No changes: nothing to apply.")
        return
    click.echo(f"Applied: {len(data['changes'])} policy change(s), {data['moved']} invoice(s) moved.")


def _confirm_saved() -> None:
    if not sys.stdin.isatty():
        raise DunflowError("apply needs a confirmation and there is no terminal to ask on",
                           "review `dunflow plan`, then run `dunflow apply --auto-approve` (in CI: with the saved plan)")
    if not click.confirm("Apply it?", default=False):
        raise DunflowError("apply cancelled; nothing was changed", "")


def apply_files(ws: Workspace, message: str) -> Plan:
    """Plan and apply the project's files at once (`dunflow init`: the scaffold starts applied)."""
    from dunflow.events.firing import current_actor
    from dunflow.policy.apply import SavedPlan, apply_plan

    fresh = plan_for(ws, None)
    return apply_plan(ws.store, ws.policies, SavedPlan.of(fresh), current_actor(), message)


def drift_notice(ws: Workspace) -> str | None:
    """'2 policies changed since the last apply: …' when the files differ from the active versions."""
    from dunflow.policy.active import drift, is_applied

    with ws.store.reading() as uow:
        if not is_applied(uow):
            return None
        try:
            found = drift(uow, ws.policies)
        except InputProblems as exc:
            return f"the policy files do not validate ({len(exc.problems)} problem(s)); the active versions are used"
    if not found:
        return None
    return (f"{len(found)} {'policy' if len(found) == 1 else 'policies'} changed since the last apply: "
            f"{', '.join(found)}; run `dunflow plan`")


@click.group()
def policies() -> None:
    """Applied policy versions: list, history NAME, show NAME@VERSION."""


@policies.command(name="list")
@READ_FORMAT
@click.pass_context
def policies_list(ctx: click.Context, fmt: str) -> None:
    """The active version of each policy."""
    from dunflow.reporting import policies as read

    with workspace(ctx).store.reading() as uow:
        rows = read.list_policies(uow)
    if fmt == "json":
        output.emit_json(rows)
        return
    output.emit_table("Active policies", ("policy", "version", "hash", "applied at", "by", "message", "cases"),
                      [(r["name"], r["version"], r["hash"][:12], r["applied_at"], r["applied_by"], r["message"],
                        r["cases"]) for r in rows])


@policies.command(name="history")
@click.argument("name")
@READ_FORMAT
@click.pass_context
def policies_history(ctx: click.Context, name: str, fmt: str) -> None:
    """Every apply that changed policy NAME."""
    from dunflow.reporting import policies as read

    with workspace(ctx).store.reading() as uow:
        rows = read.policy_history(uow, name)
    if fmt == "json":
        output.emit_json(rows)
        return
    output.emit_table(f"History of {name}", ("apply", "applied at", "by", "change", "version", "hash", "message"),
                      [(r["apply"], r["applied_at"], r["applied_by"], r["change"], r["version"] or "-",
                        (r["hash"] or "")[:12], r["message"]) for r in rows])


@policies.command(name="show")
@click.argument("ref", metavar="NAME@VERSION")
@output_format("yaml", "json")
@click.pass_context
def policies_show(ctx: click.Context, ref: str, fmt: str) -> None:
    """The exact text of one stored version (immutable: its hash is its identity)."""
    from dunflow.reporting import policies as read

    with workspace(ctx).store.reading() as uow:
        data = read.show_version(uow, ref)
    if fmt == "json":
        output.emit_json(data)
        return
    click.echo(f"# {data['name']} v{data['version']}  sha256 {data['hash']}  ({data['file']}, stored {data['stored_at']})")
    click.echo(data["source"], nl=False)


@click.command(name="test")
@click.argument("directory", required=False, type=click.Path(exists=True, path_type=Path))
@output_format("text", "json")
@click.pass_context
def policy_test_cmd(ctx: click.Context, directory: Path | None, fmt: str) -> None:
    """Run the policy test cases in DIRECTORY (default: the project's tests/) on a throwaway database."""
    from dunflow.policytests.cases import load_cases, policy_test_files
    from dunflow.policytests.runner import run_case, side_by_side

    ws = workspace(ctx)
    folder = directory or ws.project.root / "tests"
    files = policy_test_files(folder)
    if not files:
        raise DunflowError(f"no policy tests (*.yaml) in {folder}", "`dunflow init` scaffolds some in tests/")
    failed = total = 0
    results: list[dict[str, Any]] = []
    for path in files:
        cases, problems = load_cases(path, _relative(path, ws.project.root))
        if problems:
            raise InputProblems(problems)
        for case in cases:
            outcome = run_case(case, ws.policies, ws.templates, ws.project.creditor, ws.timers, ws.rates())
            total += 1
            failed += not outcome.passed
            results.append({"file": case.file, "line": case.line, "name": case.name, "passed": outcome.passed,
                            "expected": [str(n) for n in case.expected],
                            "actual": [{"notice": str(f.notice), "rule": f.rule} for f in outcome.actual]})
            if fmt == "text":
                click.echo(f"{'PASS' if outcome.passed else 'FAIL'} {case.file}:{case.line}: {case.name}")
                if not outcome.passed:
                    click.echo("\n".join(side_by_side(outcome)))
    if fmt == "json":
        output.emit_json({"passed": total - failed, "failed": failed, "cases": results})
    else:
        click.echo(f"{total - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


COMMANDS = (plan, apply, policies, policy_test_cmd)
