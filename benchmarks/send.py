"""`dunflow send` throughput: the file sink and SMTP to a local aiosmtpd (its own process), each against a minimal hand-written sender.

    python benchmarks/send.py [--files 5000] [--mails 1000] [--postgres]

The dunflow side is the real send path (`send_pending`: claim batches, check each message, deliver, record sent
with an attempt row and the ladder's receipt); the seeded messages have no cases, so the ladder update is an index
lookup per message. The hand-written senders do only the last hop: write the files with temp + rename and one
fsync per folder, or push the mails over one smtplib connection. Targets (issue 18): ≥2000 msg/s file,
≥200 msg/s SMTP. Prints one JSON line per measurement.
"""
from __future__ import annotations

import argparse
import json
import os
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pg_url  # noqa: E402

from dunflow.bootstrap import Workspace  # noqa: E402
from dunflow.delivery.channels import FileSink  # noqa: E402
from dunflow.delivery.dispatch import SendSettings, send_pending  # noqa: E402
from dunflow.delivery.smtp import SmtpChannel  # noqa: E402
from dunflow.scaffold import init_project  # noqa: E402
from dunflow.store.orm import OutboxMessage, table_of  # noqa: E402

NOW = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
SENDER = "Debitorenbuchhaltung <ar@muster.example>"


class Sink:
    """Counts what arrived, in a counter shared with the benchmark process."""

    def __init__(self, received: Any) -> None:
        self.received = received

    @property
    def count(self) -> int:
        return int(self.received.value)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.received.get_lock():
            self.received.value += 1
        return "250 OK"


def messages(count: int, debtor: int) -> list[dict[str, Any]]:
    return [dict(key=f"bench:{n}", debtor_id=debtor, channel="email", recipient=f"ap{n}@debtor.example",
                 language="de", template="x", step="notice", subject=f"Zahlungserinnerung {n}",
                 body="Sehr geehrte Damen und Herren,\n\nbitte zahlen Sie 1.234,50 € bis zum 15. Dezember 2026.\n" * 4,
                 invoice_numbers=[f"B-{n}"], routing="", status="pending", created_on=NOW.date(), created_at=NOW,
                 attempts=0, last_error="", dead_reason="") for n in range(count)]


def workspace(root: Path, url: str, count: int) -> tuple[Workspace, list[dict[str, Any]]]:
    init_project(root)
    ws = Workspace.open(root, url)
    engine = create_engine(ws.project.database_url)
    from click.testing import CliRunner

    from dunflow.cli.main import main
    CliRunner().invoke(main, ["--project", str(root), "--database", url, "import", "debtors",
                              str(root / "debtors.csv")], catch_exceptions=False)
    rows = messages(count, 1)
    with engine.begin() as connection:
        debtor = connection.exec_driver_sql("SELECT min(id) FROM debtors").scalar_one()
        for row in rows:
            row["debtor_id"] = debtor
        connection.execute(insert(table_of(OutboxMessage)), rows)
    engine.dispose()
    return ws, rows


def report(what: str, count: int, seconds: float, **extra: Any) -> None:
    print(json.dumps({"what": what, "messages": count, "seconds": round(seconds, 3),
                      "per_second": round(count / seconds), **extra}), flush=True)


def hand_written_files(folder: Path, rows: list[dict[str, Any]]) -> float:
    """The floor: the same mails as text files (temp file + rename, one fsync of the folder), no database."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    for n, row in enumerate(rows):
        mail = (f"From: {SENDER}\nTo: {row['recipient']}\nSubject: {row['subject']}\nMIME-Version: 1.0\n"
                f"Content-Type: text/plain; charset=utf-8\n\n{row['body']}").encode()
        temp = folder / f".tmp-{n}"
        temp.write_bytes(mail)
        os.replace(temp, folder / f"{n:08d}.eml")
    handle = os.open(folder, os.O_RDONLY)
    os.fsync(handle)
    os.close(handle)
    return time.perf_counter() - started


def bench_files(base: Path, url: str, count: int, db: str, repeat: int) -> None:
    """dunflow and the floor alternated `repeat` times (file creation on this machine's disk varies 4× between
    minutes, so only figures of one sitting compare); medians."""
    ours, floors = [], []
    for round_ in range(repeat):
        ws, rows = workspace(base / f"files-{round_}", url(f"f{round_}"), count)
        started = time.perf_counter()
        sent = send_pending(ws.store, lambda _name: FileSink(ws.project.outbox_dir), settings=SendSettings())
        ours.append(time.perf_counter() - started)
        assert sent.sent == count, sent
        floors.append(hand_written_files(base / f"hand-files-{round_}", rows))
    report(f"dunflow send, file sink, {db}", count, statistics.median(ours), runs=[round(t, 2) for t in ours])
    report("hand-written file writer (no database)", count, statistics.median(floors),
           runs=[round(t, 2) for t in floors])


def serve_smtp(port: int, received: Any, ready: Any) -> None:
    """The receiving server, in its own process: in a thread of the measured process it would share the
    GIL with the sender and measure the two together."""
    sink = Sink(received)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def bench_smtp(base: Path, url: str, count: int, db: str) -> None:
    import multiprocessing
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    counter, ready = context.Value("i", 0), context.Event()
    server = context.Process(target=serve_smtp, args=(port, counter, ready), daemon=True)
    server.start()
    ready.wait(30)
    sink = Sink(counter)
    try:
        ws, rows = workspace(base / "smtp", url, count)
        channel = SmtpChannel("127.0.0.1", port, SENDER, mode="plain")
        started = time.perf_counter()
        sent = send_pending(ws.store, lambda _name: channel, settings=SendSettings())
        channel.close()
        report(f"dunflow send, SMTP to aiosmtpd, {db}", sent.sent, time.perf_counter() - started,
               received=sink.count)
        received = sink.count
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as connection:
            for row in rows:
                mail = (f"From: {SENDER}\r\nTo: {row['recipient']}\r\nSubject: {row['subject']}\r\n"
                        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        f"Content-Transfer-Encoding: 8bit\r\n\r\n{row['body']}").encode()
                connection.sendmail("ar@muster.example", [row["recipient"]], mail)
        report("hand-written smtplib sender (one connection, no database)", count, time.perf_counter() - started,
               received=sink.count - received)
    finally:
        server.terminate()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="file sink rounds, alternated with the floor")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (DUNFLOW_BENCH_POSTGRES_URL)")
    args = parser.parse_args()
    for db in ["sqlite"] + (["postgres"] if args.postgres else []):
        with tempfile.TemporaryDirectory() as temp:
            base = Path(temp)
            schemas: list[str] = []
            if db == "sqlite":
                def url(name: str) -> str:
                    return f"sqlite:///{base / name}.db"
            else:
                def url(name: str) -> str:
                    schema = f"bench_send_{os.getpid()}_{name}"
                    with admin.begin() as connection:
                        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                    schemas.append(schema)
                    return pg_url(schema)
                admin = create_engine(pg_url("public"))
            try:
                bench_files(base, url, args.files, db, args.repeat)
                bench_smtp(base, url("smtp"), args.mails, db)
            finally:
                if db == "postgres":
                    with admin.begin() as connection:
                        for schema in schemas:
                            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()


if __name__ == "__main__":
    main()
