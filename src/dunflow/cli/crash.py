"""A crash is a bug, not the user's mistake: say so in one line, keep the traceback in a log file.

The log goes into the project folder (`dunflow-crash.log` next to `dunflow.yaml`) when there is
one, else into the temporary folder; it is overwritten by the next crash. `--debug` skips all this
and lets the exception through with its full traceback.
"""
from __future__ import annotations

import platform
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path

import click

from dunflow import __version__
from dunflow.cli.output import printable
from dunflow.errors import masked

CRASH_LOG = "dunflow-crash.log"


def report_crash(exc: BaseException, project: Path | None) -> Path | None:
    """Write the traceback to the crash log and print one line pointing at it; the log's path or None."""
    log = _write_log(exc, project)
    where = f"the traceback is in {log}" if log else "no crash log could be written"
    what = printable(redacted(next(iter(str(exc).splitlines()), "")))
    click.echo(f"error: dunflow crashed ({type(exc).__name__}: {what}); this is a bug in dunflow, not in your "
               f"input: {where}; run again with --debug to see it, and please report it", err=True)
    return log


def redacted(text: str) -> str:
    """`text` with the password of every URL (`--database postgresql://user:secret@host/db`) masked.

    A crash log is meant to be attached to a bug report; it must not carry the database password.
    """
    return masked(text)


def _write_log(exc: BaseException, project: Path | None) -> Path | None:
    text = redacted(f"dunflow {__version__} crashed at {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n"
                    f"command: {' '.join(sys.argv)}\npython {platform.python_version()} on {platform.platform()}"
                    "\n\n" + "".join(traceback.format_exception(exc)))
    for folder in (_project_root(project), Path(tempfile.gettempdir())):
        if folder is None:
            continue
        try:
            (folder / CRASH_LOG).write_text(text, encoding="utf-8")
        except OSError:
            continue
        return folder / CRASH_LOG
    return None


def _project_root(project: Path | None) -> Path | None:
    """The project folder, if there is one; finding it must not fail while reporting another failure."""
    try:
        from dunflow.project import find_root

        return find_root((project or Path.cwd()).resolve())
    except Exception:  # noqa: BLE001 - any failure here means: no project folder to write into
        return None
