"""SMS and webhooks to a real local HTTP server: signed JSON, retries on 500, none on 400, secrets from the env."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.delivery_support import Cli, seed

SECRET = "s3cr3t-for-tests-only"


class Hook:
    """What the server saw: every request (checked signature or not), and how it answered."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first: set[str] = set()  # recipients answered 500 on their first request
        self.reject: set[str] = set()  # recipients answered 400 every time
        self.lock = threading.Lock()


@pytest.fixture
def hook() -> Iterator[tuple[Hook, int]]:
    seen = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stamp, signature = self.headers["X-Dunflow-Timestamp"], self.headers["X-Dunflow-Signature"]
            expected = "sha256=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            data = json.loads(body)
            with seen.lock:
                first = not any(r["key"] == data["key"] for r in seen.requests)
                seen.requests.append({"key": data["key"], "idempotency": self.headers["Idempotency-Key"],
                                      "valid": hmac.compare_digest(signature, expected),
                                      "fresh": abs(time.time() - int(stamp)) < 300, "data": data})
            status = 400 if data["recipient"] in seen.reject else 500 if (
                first and data["recipient"] in seen.fail_first) else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"bad number" if status == 400 else b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen, server.server_address[1]
    server.shutdown()
    server.server_close()


def wired(project_dir: Path, database_url: str, port: int) -> Cli:
    url = f"http://127.0.0.1:{port}/send"
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write("channels:\n"
                     f"  sms: {{type: http, url: '{url}', secret_env: DUNFLOW_TEST_SMS_SECRET, retry_seconds: 0.2}}\n"
                     f"  webhook: {{type: http, url: '{url}', secret_env: DUNFLOW_TEST_SMS_SECRET}}\n")
    cli = Cli(project_dir, database_url)
    cli("import", "debtors", str(project_dir / "debtors.csv"))
    return cli


def test_requests_are_signed_retried_on_500_and_never_on_400(
        project_dir: Path, database_url: str, hook: tuple[Hook, int], monkeypatch: pytest.MonkeyPatch) -> None:
    seen, port = hook
    monkeypatch.setenv("DUNFLOW_TEST_SMS_SECRET", SECRET)
    cli = wired(project_dir, database_url, port)
    seed(cli, 4, channel="sms", recipient="+49151000000{}")
    seen.fail_first.add("+491510000001")
    seen.reject.add("+491510000002")
    first = cli.json("send", code=1)
    assert (first["sent"], first["retry"], first["dead"]) == (2, 1, 1)
    assert {f["outcome"]: f["reason"][:8] for f in first["failures"]} == {"retry": "HTTP 500", "dead": "HTTP 400"}
    time.sleep(0.3)
    assert cli.json("send")["sent"] == 1
    assert all(r["valid"] and r["fresh"] for r in seen.requests)
    assert all(r["idempotency"] == r["key"] for r in seen.requests)
    tries = Counter(r["data"]["recipient"] for r in seen.requests)
    assert tries == {"+491510000000": 1, "+491510000001": 2, "+491510000002": 1, "+491510000003": 1}
    body = seen.requests[0]["data"]
    assert body["channel"] == "sms" and body["body"].startswith("Bitte zahlen") and body["invoice_numbers"]
    assert cli.query("SELECT status FROM outbox WHERE recipient = '+491510000002'") == [("dead",)]
    [task] = cli.json("tasks")  # a notice that can never arrive is work for a person
    assert task["kind"] == "delivery_failed" and "+491510000002" in task["reason"] and "HTTP 400" in task["reason"]


def test_a_missing_secret_is_a_clear_error_before_anything_is_claimed(
        project_dir: Path, database_url: str, hook: tuple[Hook, int], monkeypatch: pytest.MonkeyPatch) -> None:
    seen, port = hook
    monkeypatch.delenv("DUNFLOW_TEST_SMS_SECRET", raising=False)
    cli = wired(project_dir, database_url, port)
    seed(cli, 2, channel="sms", recipient="+4915100000{}")
    result = cli("send", code=1)
    assert "DUNFLOW_TEST_SMS_SECRET" in result.output and "is not set" in result.output
    assert seen.requests == [] and cli.query("SELECT DISTINCT status FROM outbox") == [("pending",)]
    monkeypatch.setenv("DUNFLOW_TEST_SMS_SECRET", SECRET)
    result = cli("send")
    assert SECRET not in result.output


def test_channels_block_errors_are_located(project_dir: Path, database_url: str) -> None:
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write("channels:\n  email: {type: carrier-pigeon}\n  sms: {type: http, url: ftp://x, secret: plain}\n")
    result = Cli(project_dir, database_url)("status", code=1)
    assert "dunflow.yaml:15" in result.output and "unknown type 'carrier-pigeon'" in result.output
    assert "dunflow.yaml:16" in result.output and "unknown key 'secret'" in result.output
    assert "url must start with https://" in result.output
