"""Everything dunflow prints: problems, tables, JSON. Commands hand data here; only this module and cli.py print."""
from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import click

from dunflow.errors import Problem

if TYPE_CHECKING:
    from rich.text import Text


# C0 controls but tab and newline (ESC starts CSI/OSC sequences, BEL rings, BS and CR overwrite what
# was printed), DEL, C1 controls (U+009B is a one-character CSI), and the bidirectional overrides that
# make a terminal show text in another order than it is ("Trojan Source", CVE-2021-42574).
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe for a terminal: each control character shown as a visible escape (`\\x1b`, `\\u202e`).

    Debtor names, invoice numbers, bank references and error messages quote what users and bank files
    typed; echoed raw, an ESC sequence could retitle the terminal, hide lines or fake output."""
    return CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable_data(data: Any) -> Any:
    """Every text in `data` (dicts, lists) made `printable`, for the functions that print it for people."""
    if isinstance(data, str):
        return printable(data)
    if isinstance(data, dict):
        return {key: printable_data(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [printable_data(value) for value in data]
    return data


def echo(text: str, err: bool = False) -> None:
    """click.echo for text meant for people, made `printable` line by line."""
    click.echo(printable(text), err=err)


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

    return Text("" if value is None else printable(str(value)))


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
        echo(p.render(), err=True)


def _emit_debt(data: dict[str, Any]) -> None:
    """The debt sub-ledger: principal, charges, total due, and the charges not booked with their reason."""
    cur = data["currency"]
    click.echo(f"  principal {data['principal']} {cur}, paid {data['paid']} {cur}, "
               f"open principal {data['open_principal']} {cur}")
    if data["charges"]:
        emit_table("Charges", ("kind", "step", "booked", "amount", "paid", "open"),
                   [(c["kind"], c["step"] or "-", c["booked_on"] if c["booked"] else f"accrued to {c['booked_on']}",
                     c["amount"], c["paid"], c["open"]) for c in data["charges"]])
    for reason in data.get("charges_not_booked", []):
        click.echo(f"  {reason}")  # each says what was not charged and why
    click.echo(f"  total due {data['total_due']} {cur}")


def emit_invoice(data: dict[str, Any]) -> None:
    data = printable_data(data)
    click.echo(f"Invoice {data['number']}  debtor {data['debtor']} ({data.get('debtor_name', '')})")
    click.echo(f"  amount {data['amount']} {data['currency']}, open {data['open_amount']} {data['currency']}, "
               f"due {data['due_date']}")
    click.echo(f"  policy {data['policy']} v{data['policy_version']}, state: {data['state']}")
    if "total_due" in data:
        _emit_debt(data)
    emit_table("Timeline", ("at", "kind", "step", "channel", "status", "policy v", "why"),
               [(a["at"], a["kind"], a["step"], a["channel"], a["fate"], a["policy_version"], a["rule"])
                for a in data["actions"]])
    nxt = data["next"]
    if nxt is None:
        click.echo("Next: nothing (dunning ended)")
    else:
        click.echo(f"Next: {nxt['step'] or '-'}" + (f" on {nxt['at']}" if nxt["at"] else "") + f" — {nxt['why']}")
