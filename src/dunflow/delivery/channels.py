"""The simplest channels: the file sink (one file per message in the outbox folder) and the recording sink.

A channel's `deliver(message) -> str` returns where the message went or raises `TemporaryFailure` /
`PermanentFailure` (delivery/errors.py). Optional: `flush()` (make what was delivered durable; called before a
batch is recorded as sent), `close()` (end of a send), `record_each` (False: delivery is idempotent by itself, so
the sender records a whole batch at once; default True: recorded right after each message).

The file sink is idempotent by message key: the file name is derived from the key and written atomically (temp
file + rename), so delivering a message twice after a crash leaves one file, not two. It does not fsync each file:
`flush()` fsyncs each day folder once per batch (the renames), before the batch is recorded as sent. The file
data itself is left to the OS: after a power loss (not a crash of dunflow) a file of the last seconds may be
empty; the file sink is for tests, dry runs and hand-offs, real delivery goes through SMTP/HTTP. Leftover `.tmp-*` files of a killed sender are removed when the sink is opened.
"""
from __future__ import annotations

from functools import lru_cache
import json
import os
import re
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol

from dunflow.delivery.errors import PermanentFailure
from dunflow.delivery.mail import BARE_ADDRESS, compose, header_text


class Channel(Protocol):
    def deliver(self, message: dict[str, Any]) -> str:
        """Deliver one outbox message; return where it went. Must be idempotent per message key."""
        ...


class RecordingSink:
    """A channel that keeps what it is given instead of delivering it: dry runs and policy tests go through the
    same send path as production (claim, re-check against today's open amounts, mark delivered), and only
    the last hop differs."""

    record_each = False

    def __init__(self) -> None:
        self.delivered: dict[str, dict[str, Any]] = {}

    def deliver(self, message: dict[str, Any]) -> str:
        self.delivered[message["key"]] = message  # keyed: a repeated delivery replaces, as the file sink does
        return f"recorded:{message['key']}"


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


class FileSink:
    """E-mails as .eml, everything else (letters, SMS, webhooks, tasks) as .json, one folder per day."""

    record_each = False

    def __init__(self, root: Path, sender: str = "") -> None:
        self.root, self.sender = root, sender
        self._folders: set[Path] = set()
        self._unsynced: list[Path] = []
        clean_leftovers(root)

    def deliver(self, message: dict[str, Any]) -> str:
        folder = self.root / str(message["created_on"])
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)
        name = f"{message['id']:08d}-{_safe_name(message['key'])}"
        if message["channel"] == "email":
            path, data = folder / f"{name}.eml", self._eml(message)  # PermanentFailure on a line break in a header
        else:
            path, data = folder / f"{name}.json", self._json(message)
        _write_atomically(path, data)
        self._unsynced.append(path)
        return str(path)

    def flush(self) -> None:
        """Make the renames since the last flush durable: one fsync per day folder (and the root), not per file."""
        folders = {path.parent for path in self._unsynced}
        for folder in folders | ({self.root} if folders else set()):
            _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        self._unsynced.clear()

    def close(self) -> None:
        self.flush()

    def _eml(self, message: dict[str, Any]) -> bytes:
        """The mail as text (8-bit, LF), Message-ID derived from the key as the SMTP channel's."""
        return compose(message, _address(self.sender or "dunflow@localhost", "sender"),
                       _address(str(message["recipient"]), "recipient"), domain="dunflow.local", wire=False)

    def _json(self, message: dict[str, Any]) -> bytes:
        fields = ("key", "channel", "recipient", "language", "template", "step", "subject", "body",
                  "invoice_numbers", "created_on")
        return json.dumps({f: message[f] for f in fields}, default=str, ensure_ascii=False, indent=2).encode()


def _address(value: str, what: str) -> str:
    header_text(value, what)
    if BARE_ADDRESS.fullmatch(value):
        return value  # a bare address (most recipients) is its own header form
    return _formatted_address(value)


@lru_cache(maxsize=4096)
def _formatted_address(value: str) -> str:
    """The header form of one checked address; kept, because the sender is the same on every message and parsing
    an address costs more than writing the file."""
    name, address = parseaddr(value)
    if not address:
        return value if value.isascii() else Header(value, "utf-8").encode()
    return formataddr((name, address), "utf-8") if name else address


_CLEANED: set[Path] = set()  # sink folders this process has cleaned: leftovers come from senders dead before it


def clean_leftovers(root: Path) -> int:
    """Remove the `.tmp-PID-*` files that senders no longer alive left in the day folders; how many there were.
    A live sender's (another `send` running now) are its files in the making and are left alone.

    Once per folder and process: a year of day folders holds every message ever sent, and a process that sends
    every day (a simulation, a worker loop) would otherwise list them all again for each send."""
    folder = root.resolve()
    if folder in _CLEANED or not folder.is_dir():
        return 0
    removed = 0
    for day in os.scandir(folder):
        if day.is_dir(follow_symlinks=False):
            for entry in os.scandir(day.path):
                if entry.name.startswith(".tmp-") and not _writer_alive(entry.name):
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
    _CLEANED.add(folder)
    return removed


def _writer_alive(name: str) -> bool:
    pid = name.split("-")[1] if name.count("-") >= 2 else ""
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _fsync(path: Path, flags: int) -> None:
    try:
        handle = os.open(path, flags)
    except OSError:
        return  # a platform without directory handles (Windows): the rename is as durable as it gets
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _write_atomically(path: Path, data: bytes) -> None:
    """Temp file + rename: a reader (or a crash) sees the old file or the new one, never half of one."""
    temp = path.parent / f".tmp-{os.getpid()}-{path.name}"  # one writer per process and file; cleaned at start
    try:
        with open(temp, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
