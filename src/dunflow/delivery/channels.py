"""The simplest channels: the file sink (one file per message in the outbox folder) and the recording sink.

A channel's `deliver(message) -> str` returns where the message went or raises `TemporaryFailure` /
`PermanentFailure` (delivery/errors.py). Optional: `flush()` (make what was delivered durable; called before a
batch is recorded as sent), `close()` (end of a send), `record_each` (False: delivery is idempotent by itself, so
the sender records a whole batch at once; default True: recorded right after each message).

The file sink is idempotent by message key: the file name is derived from the key and written atomically (temp
file + rename), so delivering a message twice after a crash leaves one file, not two. It does not fsync each file:
`flush()` fsyncs each file once and each day folder once per batch (the renames), before the batch is recorded as
sent. Leftover `.tmp-*` files of a killed sender are removed when the sink is opened.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol

from dunflow.delivery.errors import PermanentFailure


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
            try:
                path, data = folder / f"{name}.eml", self._eml(message)
            except ValueError as bad:  # a line break in a header value: never written, never retried
                raise PermanentFailure(f"refused, header injection: {bad}") from None
        else:
            path, data = folder / f"{name}.json", self._json(message)
        _write_atomically(path, data)
        self._unsynced.append(path)
        return str(path)

    def flush(self) -> None:
        """Make the files written since the last flush durable: each file's data, then each folder's entries."""
        folders = {path.parent for path in self._unsynced}
        for path in self._unsynced:
            _fsync(path, os.O_RDONLY)
        for folder in folders | ({self.root} if folders else set()):
            _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        self._unsynced.clear()

    def close(self) -> None:
        self.flush()

    def _eml(self, message: dict[str, Any]) -> bytes:
        mail = EmailMessage()
        mail["From"] = self.sender or "dunflow@localhost"
        mail["To"] = message["recipient"]
        mail["Subject"] = message["subject"]
        mail["Date"] = format_datetime(message["created_at"])
        mail["Message-ID"] = make_msgid(idstring=_safe_name(message["key"]), domain="dunflow.local")
        mail["X-Dunflow-Key"] = message["key"]
        mail.set_content(message["body"])
        return bytes(mail)

    def _json(self, message: dict[str, Any]) -> bytes:
        fields = ("key", "channel", "recipient", "language", "template", "step", "subject", "body",
                  "invoice_numbers", "created_on")
        return json.dumps({f: message[f] for f in fields}, default=str, ensure_ascii=False, indent=2).encode()


def clean_leftovers(root: Path) -> int:
    """Remove the `.tmp-*` files a killed sender left in the day folders; how many there were."""
    removed = 0
    if root.is_dir():
        for temp in root.glob("*/.tmp-*"):
            temp.unlink(missing_ok=True)
            removed += 1
    return removed


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
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
