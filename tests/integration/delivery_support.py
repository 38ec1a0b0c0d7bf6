"""What the delivery tests share: a real SMTP receiver (aiosmtpd), a project wired to it, seeded messages."""
from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, Iterator

import pytest

from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, insert, text

from dunflow.cli.main import main
from dunflow.store.orm import OutboxMessage, table_of

SENDER = "Debitorenbuchhaltung <ar@muster.example>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Receiver:
    """Keeps every mail it accepts; refuses recipients by rule: `refuse[address] = "550 ..."` (every time) or
    `fail_first[address] = "451 ..."` (the first DATA of each Message-ID)."""

    mails: list[EmailMessage] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    fail_first: dict[str, str] = field(default_factory=dict)
    seen_ids: list[str] = field(default_factory=list)  # Message-IDs of every DATA, accepted or not
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content, _class=EmailMessage, policy=default)
        with self.lock:
            first = mail["Message-ID"] not in self.seen_ids
            self.seen_ids.append(mail["Message-ID"])
            for address in envelope.rcpt_tos:
                if first and address in self.fail_first:
                    return self.fail_first[address]
            self.mails.append(mail)
        return "250 OK queued"

    def ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.mails]


class SmtpServer:
    def __init__(self, receiver: Receiver, port: int) -> None:
        self.receiver, self.port = receiver, port
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.receiver, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def receiver() -> Receiver:
    """What the test SMTP server received (a module imports this fixture with `server` to use them)."""
    return Receiver()


@pytest.fixture
def server(receiver: Receiver) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port for the test, stopped after it."""
    smtp = SmtpServer(receiver, free_port())
    smtp.start()
    yield smtp
    smtp.stop()


def smtp_block(port: int, **extra: Any) -> str:
    settings = {"type": "smtp", "host": "127.0.0.1", "port": port, "starttls": False, "from": SENDER,
                "retry_seconds": 0.2, "max_attempts": 5, **extra}
    return "channels:\n  email: " + json.dumps(settings) + "\n"


class Cli:
    def __init__(self, project: Path, database: str) -> None:
        self.project, self.database = project, database
        self.base = ["--project", str(project), "--database", database]

    def __call__(self, *args: str, code: int | None = 0) -> Result:
        result = CliRunner().invoke(main, [*self.base, *args], catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, code: int | None = 0) -> Any:
        return json.loads(self(*args, "--format", "json", code=code).stdout)

    def query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.database)
        try:
            with engine.begin() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)] if sql.lstrip().upper(
                ).startswith("SELECT") else [connection.execute(text(sql), params).rowcount]
        finally:
            engine.dispose()


def seed(cli: Cli, count: int, channel: str = "email", recipient: str = "ap{}@debtor.example",
         start: int = 0) -> None:
    """`count` pending messages straight into the outbox (the delivery tests need no ladder)."""
    debtor = cli.query("SELECT min(id) FROM debtors")[0][0]
    now = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    engine = create_engine(cli.database)
    rows = [dict(key=f"seed:{start + n}", debtor_id=debtor, channel=channel,
                 recipient=recipient.format(start + n), language="de", template="x", step="notice",
                 subject=f"Zahlungserinnerung {start + n}", body=f"Bitte zahlen Sie 1.234,50 € ({start + n}).",
                 invoice_numbers=[f"S-{start + n}"], routing="", status="pending",
                 created_on=now.date(), created_at=now, attempts=0, last_error="", dead_reason="")
            for n in range(count)]
    try:
        with engine.begin() as connection:
            connection.execute(insert(table_of(OutboxMessage)), rows)
    finally:
        engine.dispose()
