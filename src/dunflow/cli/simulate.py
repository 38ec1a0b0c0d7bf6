"""`dunflow simulate`: what the policies would do over weeks or months, on a throwaway copy (thin: parse, call
`simulation.simulate`, print)."""
from __future__ import annotations

import csv
import sys
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, output_format, workspace
from dunflow.cli.progress import progress_bar

if TYPE_CHECKING:
    from dunflow.bootstrap import Workspace
    from dunflow.simulation.behaviour import PaymentModel


@click.command()
@click.option("--from", "start", type=ISO_DATE, required=True, help="First simulated day.")
@click.option("--to", "end", type=ISO_DATE, required=True, help="Last simulated day.")
@click.option("--policies", "policies_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Apply these policies in the copy first (default: the database's active policies).")
@click.option("--portfolio", type=click.Path(exists=True, path_type=Path),
              help="An invoices file or a folder with invoices.csv (+ debtors.csv) instead of the database.")
@click.option("--payments", default="default", show_default=True, metavar="MODEL|historical|none|default",
              help="Payment-behaviour model: a YAML file, learned from the database, nobody pays, or the shipped one.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the payment draws.")
@click.option("--compare", "compare_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also simulate these policies on the same portfolio and seed, side by side.")
@output_format("text", "json", "csv")
@click.pass_context
def simulate(ctx: click.Context, start: date, end: date, policies_dir: Path | None, portfolio: Path | None,
             payments: str, seed: int, compare_dir: Path | None, fmt: str) -> None:
    """Dry-run the real engine day by day on a throwaway copy; nothing in the database or outbox changes."""
    from dunflow.simulation.simulate import Scenario
    from dunflow.simulation.summary import document

    ws = workspace(ctx)
    with ExitStack() as stack:
        source = ws.engine
        own = _policies(ws, policies_dir)
        if portfolio is not None:
            from dunflow.simulation.portfolio import portfolio_database

            source = stack.enter_context(portfolio_database(portfolio, own, start))
        model = _model(ws, payments, source)
        main = Scenario(start, end, model, seed, str(policies_dir or "current"),
                        own if policies_dir is not None and portfolio is None else None)
        first = _run(ctx, ws, source, main)
        other = None
        if compare_dir is not None:
            other = _run(ctx, ws, source, Scenario(start, end, model, seed, str(compare_dir),
                                                   _policies(ws, compare_dir)))
    data = document(first, seed, model.name, other)
    if fmt == "json":
        output.emit_json(data)
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("policies", "date", "kind", "name", "value"))
        writer.writerows(_csv(data))
    else:
        _print(data)


def _csv(data: dict[str, Any]) -> list[tuple[str, ...]]:
    from dunflow.simulation.summary import csv_rows

    return list(csv_rows(data))


def _policies(ws: Workspace, directory: Path | None) -> Any:
    from dunflow.policy.validate import load_policies

    if directory is None:
        return ws.policies
    return load_policies(directory, ws.templates, ws.project.root)


def _model(ws: Workspace, payments: str, source: Any) -> PaymentModel:
    from dunflow.simulation.behaviour import DEFAULT_MODEL, NOBODY_PAYS, historical_model, load_model
    from dunflow.store.uow import Store

    if payments == "none":
        return NOBODY_PAYS
    if payments == "historical":
        with Store(source, ws.clock).reading() as uow:
            return historical_model(uow)
    model = load_model(DEFAULT_MODEL if payments == "default" else Path(payments))
    return model


def _run(ctx: click.Context, ws: Workspace, source: Any, scenario: Any) -> Any:
    from dunflow.simulation.simulate import simulate as run

    with progress_bar(ctx, f"simulate {scenario.label}") as progress:
        return run(source, scenario, ws.templates, ws.project.creditor, ws.timers, ws.project.batch_size, progress,
                   ws.rates())


def _print(data: dict[str, Any]) -> None:
    parts = [data, *([data["compare"]] if "compare" in data else [])]
    _print_days(data, parts)
    _print_totals(parts)


def _print_days(data: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    for part in parts:
        click.echo(f"== {part['policies']}: {part['from']} .. {part['to']} (payments: {data['payments']}, "
                   f"seed {data['seed']})")
        for day in part["days"]:
            sent = ", ".join(f"{n} {step}" for step, n in day["messages_by_step"].items())
            by_channel = ", ".join(f"{n} {channel}" for channel, n in day["messages_by_channel"].items())
            extra = [f"{day['paid']} paid" if day["paid"] else "", f"{day['escalated']} escalated"
                     if day["escalated"] else ""]
            click.echo(f"  {day['date']}  " + "; ".join(x for x in (sent and f"{sent} ({by_channel})", *extra) if x))


def _print_totals(parts: list[dict[str, Any]]) -> None:
    """The totals of each policy set in one column each: the what-if side by side."""
    rows = [("messages", *(str(p["totals"]["messages"]) for p in parts))]
    steps = sorted({s for p in parts for s in p["totals"]["messages_by_step"]})
    channels = sorted({c for p in parts for c in p["totals"]["messages_by_channel"]})
    rows += [(f"  step {s}", *(str(p["totals"]["messages_by_step"].get(s, 0)) for p in parts)) for s in steps]
    rows += [(f"  channel {c}", *(str(p["totals"]["messages_by_channel"].get(c, 0)) for p in parts)) for c in channels]
    rows += [(k, *(str(p["totals"][k]) for p in parts)) for k in ("paid", "escalated")]
    rows += [("cash in", *(", ".join(f"{c} {a}" for c, a in p["totals"]["cash_in"].items()) or "-" for p in parts))]
    rows += [("DSO at the end", *(", ".join(f"{r['currency']} {r['dso_standard'] or '-'}" for r in p["dso"]) or "-"
                                  for p in parts))]
    output.emit_table("Totals", ("", *(p["policies"] for p in parts)), rows)
