"""E-mail over SMTP (smtplib): STARTTLS, SSL or plain, optional login, one connection per send, a rate limit.

Each message becomes a multipart/alternative mail: the plain text as rendered, and an HTML part (the message's
own `html`, else the plain text escaped into a minimal layout). Its Message-ID is derived from the message key,
so every retry of one message carries the same Message-ID and a receiver can drop a repeat.

Headers are built from checked values only: a subject or recipient with a line break, a recipient that is not
exactly one address, refuse the message (`PermanentFailure`), it never reaches the wire.

SMTP answers: a refused recipient or any other 5xx → permanent; 4xx, a dropped connection, a timeout or a refused
connection → temporary (the message is retried with backoff).
"""
from __future__ import annotations

import html
import smtplib
import ssl
import time
from email.utils import formataddr, getaddresses, parseaddr
from typing import Any

from dunflow.delivery.errors import PermanentFailure, TemporaryFailure
from dunflow.delivery.mail import BARE_ADDRESS, compose, message_id
from dunflow.errors import DunflowError

MODES = ("starttls", "ssl", "plain")


def html_part(text: str, language: str) -> str:
    """The plain text, escaped, in a minimal HTML page (paragraphs kept, line breaks kept)."""
    paragraphs = "\n".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>"
                           for block in text.replace("\r\n", "\n").split("\n\n") if block.strip())
    return (f'<!DOCTYPE html>\n<html lang="{html.escape(language or "en")}"><head><meta charset="utf-8"></head>\n'
            f'<body style="font-family: sans-serif; line-height: 1.4; max-width: 40em">\n{paragraphs}\n</body></html>\n')


def _single_address(value: str, what: str) -> tuple[str, str]:
    """(display name, address) of a header value that must be exactly one address."""
    if any(c in value for c in "\r\n\0"):
        raise PermanentFailure(f"{what} contains a line break or NUL ({value!r}): refused, header injection")
    if BARE_ADDRESS.fullmatch(value):
        return "", value  # the common case, without the parser
    parsed = getaddresses([value])
    if len(parsed) != 1 or not parsed[0][1] or "@" not in parsed[0][1] or parsed[0][1].count("@") != 1:
        raise PermanentFailure(f"{what} {value!r} is not exactly one e-mail address")
    name, address = parsed[0]
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(c.isspace() or c in ',;<>"' for c in address):
        raise PermanentFailure(f"{what} {value!r} is not a valid e-mail address")
    return name, address


def build_mail(message: dict[str, Any], sender: str) -> tuple[bytes, str]:
    """The mail for one outbox message as it goes on the wire (CRLF, a text and an HTML part, quoted-printable
    where needed) and its envelope recipient; PermanentFailure when a header value is unsafe."""
    from_name, from_address = _single_address(sender, "sender")
    to_name, to_address = _single_address(str(message.get("recipient") or "").strip(), "recipient")
    html_text = message.get("html") or html_part(str(message.get("body") or ""), str(message.get("language") or ""))
    mail = compose({**message, "html": html_text}, _header_address(from_name, from_address),
                   _header_address(to_name, to_address), domain=from_address.rpartition("@")[2], wire=True)
    return mail, to_address


def _header_address(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8") if name else address


class SmtpChannel:
    """One SMTP connection per send (opened on the first message, reopened after a failure), `rate_per_second`
    messages at most."""

    record_each = True

    def __init__(self, host: str, port: int, sender: str, *, mode: str = "starttls", username: str = "",
                 password: str = "", rate_per_second: float = 0, timeout: float = 30, ca_file: str = "") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        _single_address(sender, "from")  # a bad sender is a configuration error, found before anything is sent
        self.host, self.port, self.sender, self.mode = host, port, sender, mode
        self.username, self.password, self.timeout = username, password, timeout
        self.ca_file = ca_file  # a relay with a certificate of the company's own CA: that CA's PEM file
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._next_slot = 0.0
        self._connection: smtplib.SMTP | None = None
        self._unreachable = ""  # once the server cannot be reached, the rest of this send fails fast

    def deliver(self, message: dict[str, Any]) -> str:
        mail, recipient = build_mail(message, self.sender)
        if self._unreachable:
            raise TemporaryFailure(f"{self._unreachable} (not tried again in this send)")
        self._wait_for_slot()
        connection = self._connect()
        envelope_from = parseaddr(self.sender)[1]
        try:
            refused = connection.sendmail(envelope_from, [recipient], mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise _by_code(code, answer, "recipient refused") from None
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error, "sender refused") from None
        except smtplib.SMTPDataError as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error, "message refused") from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise _by_code(exc.smtp_code, exc.smtp_error, "server answered") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None
        if refused:
            code, answer = next(iter(refused.values()))
            raise _by_code(code, answer, "recipient refused")
        return f"smtp://{self.host}:{self.port} {message_id(str(message['key']), envelope_from.rpartition('@')[2])}"

    def _wait_for_slot(self) -> None:
        if self.interval:
            now = time.monotonic()
            if now < self._next_slot:
                time.sleep(self._next_slot - now)
            self._next_slot = max(now, self._next_slot) + self.interval

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        try:
            context = ssl.create_default_context(cafile=self.ca_file or None)
            if self.mode == "ssl":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                            context=context)
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.mode == "starttls":
                    connection.starttls(context=context)
            if self.username:
                connection.login(self.username, self.password)
        # every message would fail the same way: these stop the send, with what to change
        except smtplib.SMTPAuthenticationError as exc:
            raise DunflowError(f"SMTP {self.host}:{self.port} refused the login ({exc.smtp_code})",
                               "check the user and password in the variables username_env / password_env name") from None
        except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS, or no AUTH on this connection
            hint = ("the server offers no STARTTLS: use its TLS port with ssl: true, or starttls: false only for a "
                    "relay on this machine" if "STARTTLS" in str(exc) else
                    "the server offers no login here: drop username_env/password_env for a relay that needs none, "
                    "or connect with starttls: true / ssl: true if it takes logins only over TLS")
            raise DunflowError(f"SMTP {self.host}:{self.port}: {exc}", hint) from None
        except ssl.SSLCertVerificationError as exc:
            raise DunflowError(f"SMTP {self.host}:{self.port}: the server's TLS certificate is not trusted "
                               f"({exc.verify_message or exc.reason})",
                               "if the relay's certificate comes from your company's own CA, set ca_file: to that "
                               "CA's certificate (PEM) in the channel") from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error, f"SMTP {self.host}:{self.port}", permanent=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._unreachable = f"SMTP {self.host}:{self.port}: cannot connect: {type(exc).__name__}: {exc}"
            raise TemporaryFailure(self._unreachable) from None
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except OSError:
                pass
            self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()


def _by_code(code: int, answer: bytes | str, what: str, permanent: bool = True) -> TemporaryFailure | PermanentFailure:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
    reason = f"{what}: {code} {text}".strip()
    if permanent and 500 <= code < 600:
        return PermanentFailure(reason)
    return TemporaryFailure(reason)
