"""E-mail to a real SMTP server (aiosmtpd): the received mail, retries, dead letters, a bad message alone."""
from __future__ import annotations

import threading
from email.message import EmailMessage
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.delivery_support import (  # noqa: F401 - receiver, server: the shared fixtures
    SENDER, Cli, Receiver, SmtpServer, free_port, receiver, seed, server, smtp_block)


def _part(mail: EmailMessage, kind: str) -> str:
    body = mail.get_body((kind,))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def wired(project_dir: Path, database_url: str, server: SmtpServer, **extra: object) -> Cli:
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write(smtp_block(server.port, **extra))
    cli = Cli(project_dir, database_url)
    for kind in ("debtors", "invoices"):
        cli("import", kind, str(project_dir / f"{kind}.csv"))
    return cli


def test_received_mail_has_headers_both_parts_and_amounts_formatted_per_language(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server)
    cli("run", "--as-of", "2026-12-01")
    emails = cli.query("SELECT recipient, subject, language, body FROM outbox WHERE channel = 'email' ORDER BY id")
    sent = cli.json("send")
    assert sent["failed"] == 0 and sent["sent"] == cli.query("SELECT count(*) FROM outbox")[0][0]
    assert len(receiver.mails) == len(emails) > 0
    by_recipient = {str(m["To"]): m for m in receiver.mails}
    for recipient, subject, language, body in emails:
        mail = by_recipient[recipient]
        assert mail["From"] == SENDER and mail["Subject"] == subject
        assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith("@muster.example>")
        assert mail.get_content_type() == "multipart/alternative"
        plain, html = (_part(mail, kind) for kind in ("plain", "html"))
        plain = plain.replace("\r\n", "\n")
        assert plain.strip() == body.strip()
        assert f'lang="{language}"' in html and "<p " in html
        assert 'role="presentation"' in html and "Muster" in html  # the shipped layout, with the creditor
        if language == "de":
            assert "€" in plain and "," in plain  # 1.190,00 € rather than €1,190.00
    german = next(m for r, _, language, _ in emails if language == "de" for m in [by_recipient[r]])
    assert any(c.isdigit() for c in _part(german, "plain"))
    # the attempts are on record, where it went included
    assert cli.query("SELECT count(*) FROM delivery_attempts WHERE outcome = 'sent' AND \"where\" LIKE 'smtp://%'"
                     )[0][0] == len(emails)


def test_message_id_is_the_same_on_every_attempt_and_a_retry_delivers_once(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server)
    seed(cli, 3)
    receiver.fail_first["ap1@debtor.example"] = "451 4.3.0 try again later"
    first = cli.json("send", code=1)
    assert (first["sent"], first["retry"], first["dead"]) == (2, 1, 0)
    assert "451" in first["failures"][0]["reason"] and first["failures"][0]["next_attempt_at"]
    time.sleep(0.3)
    assert cli.json("send")["sent"] == 1
    tried = [i for i in receiver.seen_ids if receiver.seen_ids.count(i) == 2]
    assert len(set(tried)) == 1  # the retried message carried the same Message-ID both times
    assert sorted(Counter(receiver.ids()).values()) == [1, 1, 1]
    assert cli.query("SELECT outcome FROM delivery_attempts a JOIN outbox o ON o.id = a.message_id "
                     "WHERE o.recipient = 'ap1@debtor.example' ORDER BY a.id") == [("retry",), ("sent",)]


def test_a_message_that_keeps_failing_ends_dead_with_its_reason_and_can_be_requeued(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server, max_attempts=3, retry_seconds=0.05)
    seed(cli, 2)
    receiver.refuse["ap0@debtor.example"] = "452 4.2.2 mailbox full"
    outcomes = []
    for _ in range(4):
        outcomes.append(cli.json("send", code=None))
        time.sleep(0.3)
    assert [o["retry"] for o in outcomes[:3]] == [1, 1, 0] and outcomes[2]["dead"] == 1
    status, attempts, reason = cli.query("SELECT status, attempts, dead_reason FROM outbox WHERE key = 'seed:0'")[0]
    assert (status, attempts) == ("dead", 3) and "452" in reason and "gave up after 3 attempts" in reason
    listed = cli.json("outbox", "--status", "dead")
    assert [r["dead_reason"] for r in listed] == [reason]
    del receiver.refuse["ap0@debtor.example"]
    assert cli.json("outbox", "retry", "--dead")["requeued"] == [listed[0]["id"]]
    assert cli.json("send")["sent"] == 1
    assert sorted(Counter(receiver.ids()).values()) == [1, 1]


def test_a_refused_recipient_or_an_injected_header_fails_alone_and_at_once(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server)
    seed(cli, 5)
    receiver.refuse["ap1@debtor.example"] = "550 5.1.1 no such user"
    cli.query("UPDATE outbox SET subject = 'Mahnung\nBcc: victim@evil.example' WHERE key = 'seed:2'")
    cli.query("UPDATE outbox SET recipient = 'ap3@debtor.example, other@evil.example' WHERE key = 'seed:3'")
    result = cli("send", code=1)
    assert "delivered 2 message(s)" in result.stdout and "3 dead" in result.stdout
    assert "550" in result.stderr and "header injection" in result.stderr and "not exactly one" in result.stderr
    assert len(receiver.mails) == 2 and all("Bcc" not in m for m in receiver.mails)
    assert cli.query("SELECT count(*) FROM outbox WHERE status = 'dead'")[0][0] == 3


def test_server_stopped_mid_batch_and_restarted_every_message_arrives_once(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server, rate_per_second=40)
    seed(cli, 30)
    outcome: dict[str, object] = {}
    sending = threading.Thread(target=lambda: outcome.update(cli.json("send", code=None)))
    sending.start()
    while len(receiver.mails) < 5:
        time.sleep(0.01)
    server.stop()
    sending.join(60)
    assert outcome["retry"] and outcome["sent"]
    server.start()
    for _ in range(10):
        time.sleep(0.5)
        if cli.json("send", code=None)["failed"] == 0 and not cli.query(
                "SELECT count(*) FROM outbox WHERE status <> 'sent'")[0][0]:
            break
    assert cli.query("SELECT count(*) FROM outbox WHERE status = 'sent'")[0][0] == 30
    counts = Counter(receiver.ids())
    assert len(counts) == 30
    # the one message in flight when the server went away may have arrived while its sender saw an error: it
    # carries the same Message-ID, which is how a receiver drops the repeat
    assert sum(counts.values()) - 30 <= 1


def test_a_slow_batch_renews_its_lease_so_no_second_sender_takes_it_over(
        project_dir: Path, database_url: str, server: SmtpServer, receiver: Receiver) -> None:
    cli = wired(project_dir, database_url, server, rate_per_second=5)
    seed(cli, 12)
    outcome: dict[str, object] = {}
    slow = threading.Thread(target=lambda: outcome.update(cli.json("send", "--lease", "1", code=None)))
    slow.start()
    time.sleep(1.8)  # past the first lease: renewed meanwhile, so this sender finds nothing to take over
    assert cli.json("send", "--lease", "1")["sent"] == 0
    slow.join(60)
    assert outcome["sent"] == 12 and sorted(Counter(receiver.ids()).values()) == [1] * 12


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_uses_the_secrets_from_the_environment_and_never_prints_them(
        project_dir: Path, database_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: object, session: object, envelope: object, mechanism: str,
                      data: object) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ar-user", b"pa55-word")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers a failure with 535

    port = free_port()
    controller = Controller(receiver, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
            config.write(smtp_block(port, username_env="DUNFLOW_TEST_SMTP_USER",
                                    password_env="DUNFLOW_TEST_SMTP_PASSWORD"))
        cli = Cli(project_dir, database_url)
        cli("import", "debtors", str(project_dir / "debtors.csv"))
        seed(cli, 3)
        monkeypatch.setenv("DUNFLOW_TEST_SMTP_USER", "ar-user")
        monkeypatch.setenv("DUNFLOW_TEST_SMTP_PASSWORD", "wrong")
        refused = cli("send", code=1)
        assert "refused the login (535)" in refused.output
        assert "wrong" not in refused.output and receiver.mails == []
        monkeypatch.setenv("DUNFLOW_TEST_SMTP_PASSWORD", "pa55-word")
        cli.query("UPDATE outbox SET next_attempt_at = NULL")
        sent = cli("send")
        assert "delivered 3 message(s)" in sent.output and len(receiver.mails) == 3
        assert "pa55-word" not in sent.output
    finally:
        controller.stop()
