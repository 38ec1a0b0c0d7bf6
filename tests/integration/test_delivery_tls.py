"""TLS against real servers with a certificate of a CA made for the test: e-mail to aiosmtpd (STARTTLS and
implicit TLS deliver; an untrusted certificate, a server without STARTTLS or AUTH, a refused login (535) stop the
send with what to change, the secret never printed) and webhooks to an HTTPS server (delivered with `ca_file`,
stopped without it)."""
from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.integration.delivery_support import Cli, Receiver, free_port, seed, smtp_block

# needs the openssl command (.ci/run installs it when missing): not skipped, a missing tool fails
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a server certificate for 127.0.0.1 signed by it (the CA is in no trust store)."""
    folder = tmp_path_factory.mktemp("pki")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=dunflow test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return folder


class TlsReceiver(Receiver):
    """A receiver that also notes whether each mail came over an encrypted session."""

    encrypted: list[bool]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


def server_context(pki: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    return context


@pytest.fixture
def receiver() -> TlsReceiver:
    found = TlsReceiver()
    found.encrypted = []
    return found


def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    """ar / s3cret; anything else is answered 535 (handled=False: aiosmtpd then sends its 535 reply)."""
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ar", b"s3cret")
    return AuthResult(success=ok, handled=False)


def serve(receiver: Receiver, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(receiver, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(receiver: TlsReceiver, pki: Path) -> Iterator[int]:
    yield from serve(receiver, tls_context=server_context(pki), require_starttls=True, authenticator=authenticator,
                     auth_required=True)


@pytest.fixture
def ssl_server(receiver: TlsReceiver, pki: Path) -> Iterator[int]:
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this session is TLS from its first byte
    yield from serve(receiver, ssl_context=server_context(pki), authenticator=authenticator, auth_required=True,
                     auth_require_tls=False)


def project(project_dir: Path, database_url: str, pki: Path, port: int, monkeypatch: pytest.MonkeyPatch,
            password: str = "s3cret", **settings: Any) -> Cli:
    shutil.copy(pki / "ca.pem", project_dir / "relay-ca.pem")
    options = dict(username_env="DUNFLOW_TEST_SMTP_USER", password_env="DUNFLOW_TEST_SMTP_PASSWORD", **settings)
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write(smtp_block(port, **options))
    monkeypatch.setenv("DUNFLOW_TEST_SMTP_USER", "ar")
    monkeypatch.setenv("DUNFLOW_TEST_SMTP_PASSWORD", password)
    cli = Cli(project_dir, database_url)
    cli("import", "debtors", str(project_dir / "debtors.csv"))
    seed(cli, 3)
    return cli


@pytest.mark.parametrize(("server", "mode"), [("starttls_server", "starttls"), ("ssl_server", "ssl")])
def test_tls_with_the_relays_own_ca_delivers_every_mail_encrypted_after_login(
        project_dir: Path, database_url: str, pki: Path, receiver: TlsReceiver, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, server: str, mode: str) -> None:
    """STARTTLS on the submission port, and implicit TLS on the SSL port."""
    port = request.getfixturevalue(server)
    cli = project(project_dir, database_url, pki, port, monkeypatch, ca_file="relay-ca.pem", **{mode: True})
    assert cli.json("send")["sent"] == 3
    assert len(receiver.mails) == 3 and receiver.encrypted == [True] * 3


def test_a_certificate_nobody_trusts_stops_the_send_and_says_to_set_ca_file(
        project_dir: Path, database_url: str, pki: Path, starttls_server: int, receiver: TlsReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cli = project(project_dir, database_url, pki, starttls_server, monkeypatch, starttls=True)
    refused = cli("send", code=1)
    assert "certificate is not trusted" in refused.output and "ca_file" in refused.output
    assert receiver.mails == []
    assert cli.query("SELECT status, attempts FROM outbox") == [("pending", 0)] * 3  # nothing counted as tried


def test_a_server_without_starttls_is_not_sent_to_in_clear_text(
        project_dir: Path, database_url: str, pki: Path, receiver: TlsReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    for port in serve(receiver):  # no tls_context: the server offers no STARTTLS
        cli = project(project_dir, database_url, pki, port, monkeypatch, starttls=True, ca_file="relay-ca.pem")
        refused = cli("send", code=1)
        assert "STARTTLS" in refused.output and "ssl: true" in refused.output
        assert receiver.mails == []


def test_a_refused_login_535_stops_the_send_and_never_prints_the_password(
        project_dir: Path, database_url: str, pki: Path, starttls_server: int, receiver: TlsReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cli = project(project_dir, database_url, pki, starttls_server, monkeypatch, password="not-the-password",
                  starttls=True, ca_file="relay-ca.pem")
    refused = cli("send", code=1)
    assert "refused the login (535)" in refused.output and "username_env" in refused.output
    assert "not-the-password" not in refused.output and receiver.mails == []
    assert cli.query("SELECT status, attempts FROM outbox") == [("pending", 0)] * 3


def test_a_missing_ca_file_is_named_before_anything_is_sent(
        project_dir: Path, database_url: str, pki: Path, starttls_server: int, receiver: TlsReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cli = project(project_dir, database_url, pki, starttls_server, monkeypatch, starttls=True, ca_file="nope.pem")
    refused = cli("send", code=1)
    assert "ca_file" in refused.output and "nope.pem" in refused.output and receiver.mails == []


def test_a_login_the_server_does_not_offer_says_so_rather_than_blaming_tls(
        project_dir: Path, database_url: str, pki: Path, receiver: TlsReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    for port in serve(receiver):  # no authenticator: the server offers no AUTH
        cli = project(project_dir, database_url, pki, port, monkeypatch, starttls=False)
        refused = cli("send", code=1)
        assert "AUTH" in refused.output and "username_env" in refused.output and "STARTTLS:" not in refused.output
        assert receiver.mails == []


# --- webhooks over HTTPS ------------------------------------------------------------------------------------


@pytest.fixture
def https_hook(pki: Path) -> Iterator[tuple[list[str], int]]:
    """A real HTTPS server with the test CA's certificate; keeps the Idempotency-Key of each request."""
    keys: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            keys.append(self.headers["Idempotency-Key"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context(pki).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield keys, server.server_address[1]
    server.shutdown()
    server.server_close()


def webhook_project(project_dir: Path, database_url: str, pki: Path, port: int, monkeypatch: pytest.MonkeyPatch,
                    extra: str = "") -> Cli:
    shutil.copy(pki / "ca.pem", project_dir / "hook-ca.pem")
    with (project_dir / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write("channels:\n  webhook: {type: http, url: 'https://127.0.0.1:%d/hook', secret_env: "
                     "DUNFLOW_TEST_HOOK_SECRET%s}\n" % (port, extra))
    monkeypatch.setenv("DUNFLOW_TEST_HOOK_SECRET", "hook-secret")
    cli = Cli(project_dir, database_url)
    cli("import", "debtors", str(project_dir / "debtors.csv"))
    seed(cli, 3, channel="webhook", recipient="erp-{}")
    return cli


def test_a_webhook_over_https_with_the_servers_own_ca_is_delivered_once_each(
        project_dir: Path, database_url: str, pki: Path, https_hook: tuple[list[str], int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    keys, port = https_hook
    cli = webhook_project(project_dir, database_url, pki, port, monkeypatch, ", ca_file: hook-ca.pem")
    assert cli.json("send")["sent"] == 3
    assert sorted(keys) == ["seed:0", "seed:1", "seed:2"]


def test_a_webhook_certificate_nobody_trusts_stops_the_send_and_says_to_set_ca_file(
        project_dir: Path, database_url: str, pki: Path, https_hook: tuple[list[str], int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    keys, port = https_hook
    cli = webhook_project(project_dir, database_url, pki, port, monkeypatch)
    refused = cli("send", code=1)
    assert "certificate is not trusted" in refused.output and "ca_file" in refused.output and keys == []
    assert cli.query("SELECT status, attempts FROM outbox") == [("pending", 0)] * 3
