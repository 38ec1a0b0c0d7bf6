"""Everything dunflow prints: problems, tables, JSON. Commands hand data here; only this module and cli.py print."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import click

from dunflow.errors import Problem

if TYPE_CHECKING:
    from rich.text import Text


def default_format() -> str:
    return "table" if sys.stdout.isatty() else "table"


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def emit_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table of `rows`; every cell is shown literally, whatever the user typed into it."""
    from rich.console import (
        Console,  # imported here: `dunflow --help` must not pay for rich
    )
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(literal(v) for v in row))
    Console(width=160).print(table)


def literal(value: Any) -> Text:
    """A cell as plain text: rich would read `[/Rg 12]` as markup (and crash) or `:smile:` as an emoji.

    Payment references, debtor names, invoice numbers and reasons come from users and bank
    files, so no cell is ever parsed as markup; None is an empty cell.
    """
    from rich.text import Text

    return Text("" if value is None else str(value))


def emit_problems(problems: Sequence[Problem], fmt: str = "text") -> None:
    if fmt == "json":
        emit_json([p.__dict__ for p in problems])
        return
    if fmt == "github":
        from dunflow.cli.github import annotation

        for p in problems:
            click.echo(annotation(p))
        return
    for p in problems:
        click.echo(p.render(), err=True)


def emit_invoice(data: dict[str, Any]) -> None:
    click.echo(f"Invoice {data['number']}  debtor {data['debtor']} ({data.get('debtor_name', '')})")
    click.echo(f"  amount {data['amount']} {data['currency']}, open {data['open_amount']} {data['currency']}, "
               f"due {data['due_date']}")
    click.echo(f"  policy {data['policy']} v{data['policy_version']}, state: {data['state']}")
    emit_table("Timeline", ("at", "kind", "step", "channel", "status", "policy v", "why"),
               [(a["at"], a["kind"], a["step"], a["channel"], a["fate"], a["policy_version"], a["rule"])
                for a in data["actions"]])
    nxt = data["next"]
    if nxt is None:
        click.echo("Next: nothing (dunning ended)")
    else:
        click.echo(f"Next: {nxt['step'] or '-'}" + (f" on {nxt['at']}" if nxt["at"] else "") + f" — {nxt['why']}")
