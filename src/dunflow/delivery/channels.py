"""Delivery channels. For now one: the file sink, which writes each message into the outbox folder.

Delivery is idempotent by message key: the file name is derived from the key and
written atomically (temp file + rename), so delivering a message twice after a
crash leaves one file, not two.
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


class Channel(Protocol):
    def deliver(self, message: dict[str, Any]) -> str:
        """Deliver one outbox message; return where it went. Must be idempotent per message key."""


class RecordingSink:
    """A channel that keeps what it is given instead of delivering it: dry runs and policy tests go through the
    same send path as production (claim, re-check against today's open amounts, mark delivered), and only
    the last hop differs."""

    def __init__(self) -> None:
        self.delivered: dict[str, dict[str, Any]] = {}

    def deliver(self, message: dict[str, Any]) -> str:
        self.delivered[message["key"]] = message  # keyed: a repeated delivery replaces, as the file sink does
        return f"recorded:{message['key']}"


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)


class FileSink:
    """E-mails as .eml, everything else (letters, SMS, webhooks, tasks) as .json, one folder per day."""

    def __init__(self, root: Path, sender: str = "") -> None:
        self.root, self.sender = root, sender

    def deliver(self, message: dict[str, Any]) -> str:
        folder = self.root / str(message["created_on"])
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{message['id']:08d}-{_safe_name(message['key'])}"
        if message["channel"] == "email":
            path, data = folder / f"{name}.eml", self._eml(message)
        else:
            path, data = folder / f"{name}.json", self._json(message)
        _write_atomically(path, data)
        return str(path)

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


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
