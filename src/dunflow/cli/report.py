"""`dunflow report`: credit-management overviews (aging, DSO, CEI, effectiveness, activity) and the HTML page.

Thin: parse, call `reporting.credit` (or `reporting.html`), print as a table, JSON or CSV.
"""
from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path
from typing import Any, Callable

import click

from dunflow.cli import output
from dunflow.cli.common import ISO_DATE, output_format, workspace

REPORT_FORMAT = output_format("table", "json", "csv")
AS_OF = click.option("--as-of", "as_of", type=ISO_DATE, help="The report's date (default: today).")
DAYS = click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True,
                    help="Length of the period that ends on the as-of date.")


@click.group(invoke_without_command=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one self-contained HTML page with charts to this file.")
@click.option("--simulation", "simulation_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --html: add the comparison of a `dunflow simulate --format json` output.")
@AS_OF
@click.pass_context
def report(ctx: click.Context, html_file: Path | None, simulation_file: Path | None, as_of: date | None) -> None:
    """Overviews of the portfolio: aging, dso, cei, effectiveness, activity; or --html FILE."""
    if ctx.invoked_subcommand is not None:
        return
    if html_file is None:
        click.echo(ctx.get_help())
        ctx.exit(2)
    from dunflow.reporting.html import write_page

    ws = workspace(ctx)
    with ws.store.reading() as uow:
        page = write_page(uow, as_of or ws.clock.today(), html_file, simulation_file)
    click.echo(f"wrote {page}", err=True)


def _emit(ctx: click.Context, fmt: str, title: str, query: Callable[[Any, date], dict[str, Any]],
          as_of: date | None) -> None:
    ws = workspace(ctx)
    with ws.store.reading() as uow:
        data = query(uow, as_of or ws.clock.today())
    if fmt == "json":
        output.emit_json(data)
        return
    rows = data["rows"]
    if not rows and fmt == "table":
        click.echo(f"{title} as of {data['as_of']}: nothing to report")
        return
    columns = list(rows[0]) if rows else ["(nothing)"]
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if r[c] is None else r[c] for c in columns] for r in rows])
        return
    output.emit_table(f"{title} as of {data['as_of']}", columns,
                      [["-" if r[c] is None else r[c] for c in columns] for r in rows])


@report.command()
@click.option("--by", type=click.Choice(["currency", "debtor", "segment"]), default="currency", show_default=True)
@AS_OF
@REPORT_FORMAT
@click.pass_context
def aging(ctx: click.Context, by: str, as_of: date | None, fmt: str) -> None:
    """Open amounts by days past due: current, 1-30, 31-60, 61-90, 90+."""
    from dunflow.reporting import credit

    _emit(ctx, fmt, "Aging", lambda uow, day: credit.aging(uow, day, by), as_of)


@report.command()
@DAYS
@AS_OF
@REPORT_FORMAT
@click.pass_context
def dso(ctx: click.Context, days: int, as_of: date | None, fmt: str) -> None:
    """Days sales outstanding: standard, countback, best possible, and ADD."""
    from dunflow.reporting import credit

    _emit(ctx, fmt, f"DSO ({days} days)", lambda uow, day: credit.dso(uow, day, days), as_of)


@report.command()
@DAYS
@AS_OF
@REPORT_FORMAT
@click.pass_context
def cei(ctx: click.Context, days: int, as_of: date | None, fmt: str) -> None:
    """Collection effectiveness index of the period."""
    from dunflow.reporting import credit

    _emit(ctx, fmt, f"CEI ({days} days)", lambda uow, day: credit.collection_effectiveness(uow, day, days), as_of)


@report.command()
@AS_OF
@REPORT_FORMAT
@click.pass_context
def effectiveness(ctx: click.Context, as_of: date | None, fmt: str) -> None:
    """Per step and channel: the share of the invoices it listed that were paid within 7 and 14 days."""
    from dunflow.reporting import credit

    _emit(ctx, fmt, "Effectiveness", credit.effectiveness, as_of)


@report.command()
@DAYS
@AS_OF
@REPORT_FORMAT
@click.pass_context
def activity(ctx: click.Context, days: int, as_of: date | None, fmt: str) -> None:
    """Messages delivered per day and channel."""
    from dunflow.reporting import credit

    _emit(ctx, fmt, "Activity", lambda uow, day: credit.activity(uow, day, days), as_of)
