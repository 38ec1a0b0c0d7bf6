"""Progress bars for long work (import, run, send): on a terminal only, on stderr, never in the output.

A bar is shown when both stdout and stderr are terminals and `--quiet` was not given: a script
that pipes or captures the output (`--format json | jq`, cron mail) sees only the result.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

import click

Progress = Callable[[int, int], None]


def wanted(ctx: click.Context) -> bool:
    """True when a person is watching: stdout and stderr are terminals and --quiet is off."""
    quiet = bool((ctx.find_root().obj or {}).get("quiet"))
    return not quiet and sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress_bar(ctx: click.Context, label: str) -> Iterator[Progress | None]:
    """A callback `(done, total)` that moves a bar, or None when nobody is watching.

    Until the callback is first called the bar pulses (work whose size is not known yet, such
    as reading an import file); it disappears when the work is done, leaving only the result.
    """
    if not wanted(ctx):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, redirect_stdout=False,
                  redirect_stderr=False) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
