"""Real `dunflow send` processes: two at once, and one killed with SIGKILL mid-batch, against a real SMTP server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.delivery_support import (  # noqa: F401 - receiver, server: the shared fixtures
    Cli, Receiver, SmtpServer, receiver, seed, server, smtp_block)

ENTRY = "import sys; from dunflow.cli import main; main(sys.argv[1:], prog_name='dunflow')"


def wired(project_dir: Path, database_url: str, server: SmtpServer, **extra: object) -> Cli:
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write(smtp_block(server.port, **extra))
    cli = Cli(project_dir, database_url)
    cli("import", "debtors", str(project_dir / "debtors.csv"))
    return cli


def sender(cli: Cli, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", ENTRY, *cli.base, "send", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "DUNFLOW_DEBUG": "1"})


def test_two_senders_at_once_deliver_every_message_exactly_once(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server, rate_per_second=100)  # slow enough for both to start
    seed(cli, 300)
    senders = [sender(cli, "--batch-size", "20") for _ in range(2)]
    for process in senders:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert b"Traceback" not in err
    counts = Counter(receiver.ids())
    assert len(counts) == 300 and set(counts.values()) == {1}
    assert cli.query("SELECT count(*) FROM outbox WHERE status = 'sent'")[0][0] == 300
    workers = cli.query("SELECT count(DISTINCT worker) FROM delivery_attempts")[0][0]
    assert workers == 2  # both took part
    assert cli.query("SELECT count(*) FROM delivery_attempts")[0][0] == 300


def test_a_sender_killed_mid_batch_is_taken_over_after_its_lease_and_nothing_arrives_twice(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server, rate_per_second=50)
    seed(cli, 80)
    victim = sender(cli, "--lease", "2")
    deadline = time.monotonic() + 60
    while len(receiver.mails) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    states = dict(cli.query("SELECT status, count(*) FROM outbox GROUP BY status"))
    assert states.get("claimed", 0) > 0 and states.get("sent", 0) >= 9
    assert cli.json("send")["sent"] == 0  # the lease still holds: nobody takes the messages over yet
    time.sleep(2.2)
    assert cli.json("send")["failed"] == 0
    assert cli.query("SELECT count(*) FROM outbox WHERE status = 'sent'")[0][0] == 80
    counts = Counter(receiver.ids())
    assert len(counts) == 80
    # at most the one message in flight at the kill arrives twice, with the same Message-ID
    assert sum(counts.values()) - 80 <= 1
