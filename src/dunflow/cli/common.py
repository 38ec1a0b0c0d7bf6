"""What every command module of the CLI shares: dates, amounts, the workspace, the output format.

This module is imported when `dunflow --help` runs, so it imports nothing heavy at the top: the
workspace (SQLAlchemy, Jinja2, alembic…) and the number parser (Babel) are imported where used.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

import click

from dunflow.errors import DunflowError

if TYPE_CHECKING:
    from dunflow.bootstrap import Workspace

INPUT_FORMATS = ("csv", "xlsx", "camt053", "camt", "camt.053", "xml", "camt054", "camt.054", "mt940", "zip")


class IsoDate(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"'{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-12-01", param, ctx)


ISO_DATE = IsoDate()


class OutputFormat(click.Choice):
    """`--format` chooses the output; an input format given there (the old import spelling) gets a pointer."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in INPUT_FORMATS and value not in self.choices:
            self.fail(f"'{value}' is an input format; --format chooses the output "
                      f"({'|'.join(map(str, self.choices))}). Write --input-format {value}", param, ctx)
        return super().convert(value, param, ctx)


def output_format(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The `--format` option of a command: the first choice is the default (text or table for people)."""
    return click.option("--format", "fmt", type=OutputFormat(choices), default=choices[0], show_default=True,
                        help="Output format; json is stable (see README, 'JSON output').")


READ_FORMAT = output_format("table", "json")
WRITE_FORMAT = output_format("text", "json")


def workspace(ctx: click.Context) -> Workspace:
    """The project named by --project/--database (or found from the current folder), with the command's one clock:
    the system clock, unless whoever invoked the CLI (a test, a simulation) handed one in as `obj["clock"]`."""
    from dunflow.bootstrap import Workspace

    return Workspace.open(ctx.obj["project"], ctx.obj["database"], ctx.obj.get("clock"))


def parse_amount(text: str) -> Decimal:
    """An AMOUNT argument: a dot-decimal greater than 0, as everywhere in dunflow."""
    from dunflow.formats.tables import BadValue, to_decimal

    try:
        return to_decimal(text, positive=True, allow_zero=False)
    except BadValue as bad:
        raise DunflowError(f"amount {bad.message}", bad.hint or "write the amount like 1234.50") from None


def report(fmt: str, data: dict[str, Any], text: Callable[[dict[str, Any]], None]) -> None:
    """Print what a writing command did: `data` as JSON, or `text(data)` for people."""
    if fmt == "json":
        from dunflow.cli.output import emit_json

        emit_json(data)
    else:
        text(data)
