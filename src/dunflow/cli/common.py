"""What every command module of the CLI shares: the date parameter, amounts, the project workspace."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import click

from dunflow.bootstrap import Workspace
from dunflow.errors import DunflowError
from dunflow.formats.tables import BadValue, to_decimal


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


def workspace(ctx: click.Context) -> Workspace:
    """The project named by --project/--database (or found from the current folder), with the command's one clock:
    the system clock, unless whoever invoked the CLI (a test, a simulation) handed one in as `obj["clock"]`."""
    return Workspace.open(ctx.obj["project"], ctx.obj["database"], ctx.obj.get("clock"))


def parse_amount(text: str) -> Decimal:
    """An AMOUNT argument: a dot-decimal greater than 0, as everywhere in dunflow."""
    try:
        return to_decimal(text, positive=True, allow_zero=False)
    except BadValue as bad:
        raise DunflowError(f"amount {bad.message}", bad.hint or "write the amount like 1234.50") from None
