"""One outbox message as the bytes of an RFC 5322 mail: the file sink's `.eml` and the SMTP channel's DATA.

Built from checked values with the standard library's encoders (RFC 2047 words from `email.header`, quoted-
printable from `binascii`), not through `email.message` objects: their header registry parses and refolds every
header again when the mail is flattened, which cost four times the rest of a send. What makes this safe is that no
header value reaches the mail unchecked: a line break or NUL in one refuses the message (`PermanentFailure`), so
no value can start a header of its own.
"""
from __future__ import annotations

import binascii
import hashlib
import re
import string
from email.charset import Charset
from email.header import Header
from email.utils import format_datetime
from typing import Any

from dunflow.delivery.errors import PermanentFailure

LONGEST_LINE = 998  # RFC 5322's limit; a longer header value is folded into encoded words
BARE_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")  # a@b.c, nothing else


def message_id(key: str, domain: str) -> str:
    """`<hash-of-key@domain>`: the same for every attempt at one message, different for every message."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain or 'dunflow.local'}>"


def header_text(value: str, what: str) -> str:
    """A header value: refused when it holds a line break or NUL (header injection); RFC 2047 encoded words when it
    is not ASCII or too long for one line (with room for the header's name)."""
    if any(c in value for c in "\r\n\0"):
        raise PermanentFailure(f"{what} contains a line break: refused, header injection")
    if value.isascii():
        return value if len(value) <= LONGEST_LINE - 80 else Header(value, "us-ascii").encode()
    return "\n ".join(UTF8.header_encode(chunk) for chunk in _word_chunks(value))


UTF8 = Charset("utf-8")  # its header_encode makes one RFC 2047 "Q" word of a text
WORD_TEXT = 75 - len("=?utf-8?q??=")  # an encoded word is at most 75 characters (RFC 2047, 2)
_Q_LITERAL = frozenset(string.ascii_letters + string.digits + "!*+-/ ")  # one character each in a Q word


def _word_chunks(value: str) -> list[str]:
    """`value` cut into pieces that each encode to one word of at most 75 characters, never inside a character.

    `email.header.Header` finds the same cuts by encoding and re-encoding candidate lines (~140 µs a subject, more
    than the rest of a mail); a Q word's length is known from its characters (one for a literal, three per UTF-8
    byte otherwise), so one pass finds them and the standard library's encoder writes each word."""
    chunks: list[str] = []
    start, size = 0, 0
    for index, char in enumerate(value):
        cost = 1 if char in _Q_LITERAL else 3 * len(char.encode())
        if size + cost > WORD_TEXT:
            chunks.append(value[start:index])
            start, size = index, 0
        size += cost
    chunks.append(value[start:])
    return chunks


def compose(message: dict[str, Any], sender: str, recipient: str, *, domain: str, wire: bool) -> bytes:
    """The mail of `message` (subject, body, html, key, created_at) from `sender` to `recipient` (both already in
    header form). `wire`: for SMTP, CRLF line ends and quoted-printable bodies (7-bit clean for every relay);
    otherwise LF and 8-bit text (a readable `.eml` file)."""
    key = str(message["key"])
    headers = (f"From: {sender}\n"
               f"To: {recipient}\n"
               f"Subject: {header_text(str(message.get('subject') or ''), 'subject')}\n"
               f"Date: {format_datetime(message['created_at'])}\n"
               f"Message-ID: {message_id(key, domain)}\n"
               f"X-Dunflow-Key: {header_text(key, 'key')}\n"
               "MIME-Version: 1.0\n")
    body = _part("plain", str(message.get("body") or ""), wire)
    html = message.get("html")
    if not html:
        mail = headers + body
    else:
        boundary = "=_dunflow_" + hashlib.sha256(key.encode()).hexdigest()[:24]  # the same on every attempt
        html_part = _part("html", str(html), wire)
        if boundary in body or boundary in html_part:  # not in practice; never a broken mail
            raise PermanentFailure("the message text contains its own MIME boundary")
        mail = (headers + f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
                + f"--{boundary}\n{body}--{boundary}\n{html_part}--{boundary}--\n")
    return mail.replace("\n", "\r\n").encode("ascii") if wire else mail.encode()


def _part(subtype: str, text: str, wire: bool) -> str:
    """A text part's headers and body; the body ends in a line break."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text if text.endswith("\n") else text + "\n"
    if wire and not (text.isascii() and all(len(line) <= LONGEST_LINE for line in text.split("\n"))):
        encoded = binascii.b2a_qp(text.encode(), istext=True).decode("ascii")
        return (f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n'
                + encoded)
    encoding = "7bit" if wire else "8bit"
    return f'Content-Type: text/{subtype}; charset="utf-8"\nContent-Transfer-Encoding: {encoding}\n\n{text}'
