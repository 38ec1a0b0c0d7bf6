"""Payment links: a signed token per notice, so the payment page knows which invoices a visitor came to pay.

The token is `PAYLOAD.SIGNATURE`, both base64url without padding: PAYLOAD is compact JSON with the notice key
(`k`), the invoice numbers (`i`), the debtor code (`d`), the step (`s`) and the last day it is valid (`e`,
ISO date); SIGNATURE is HMAC-SHA256 over the PAYLOAD text with the project's secret. A token is *forged* when it
cannot be read or its signature does not match (compared in constant time), *expired* after its last day, else
*valid*. Pure: the secret and today's date are handed in.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, timedelta

VALID, EXPIRED, FORGED = "valid", "expired", "forged"


@dataclass(frozen=True)
class LinkClaims:
    """What a token says: which notice it belongs to, and until when it may be used."""

    key: str
    invoices: tuple[str, ...]
    debtor: str
    step: str
    expires_on: date


@dataclass(frozen=True)
class Verdict:
    status: str  # valid | expired | forged
    claims: LinkClaims | None = None
    why: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign(claims: LinkClaims, secret: bytes) -> str:
    """The url-safe token for `claims`."""
    if not secret:
        raise ValueError("a payment-link secret must not be empty")
    body = {"k": claims.key, "i": list(claims.invoices), "d": claims.debtor, "s": claims.step,
            "e": claims.expires_on.isoformat()}
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return f"{payload}.{_signature(payload, secret)}"


def verify(token: str, secret: bytes, today: date) -> Verdict:
    """Is `token` one of ours, and still valid on `today` (its last day included)?"""
    payload, dot, signature = token.strip().partition(".")
    if not dot or not payload or not signature:
        return Verdict(FORGED, why="not a payment-link token (PAYLOAD.SIGNATURE)")
    if not secret or not hmac.compare_digest(_signature(payload, secret).encode(), signature.encode("ascii", "replace")):
        return Verdict(FORGED, why="the signature does not match (another secret, or the token was changed)")
    try:
        body = json.loads(_unb64(payload).decode("utf-8"))
        claims = LinkClaims(str(body["k"]), tuple(str(n) for n in body["i"]), str(body["d"]), str(body["s"]),
                            date.fromisoformat(body["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        return Verdict(FORGED, why=f"signed but unreadable ({type(exc).__name__})")
    if today > claims.expires_on:
        return Verdict(EXPIRED, claims, f"valid until {claims.expires_on.isoformat()}")
    return Verdict(VALID, claims)


@dataclass(frozen=True)
class PaymentLinks:
    """`links:` of dunflow.yaml with the secret already read: makes the link of each notice."""

    base_url: str
    secret: bytes
    valid_days: int = 60

    def token(self, key: str, invoices: list[str] | tuple[str, ...], debtor: str, step: str, as_of: date) -> str:
        return sign(LinkClaims(key, tuple(invoices), debtor, step, as_of + timedelta(days=self.valid_days)),
                    self.secret)

    def link(self, key: str, invoices: list[str] | tuple[str, ...], debtor: str, step: str, as_of: date) -> str:
        """`base_url/TOKEN`; the same notice on the same day always gets the same link."""
        return f"{self.base_url.rstrip('/')}/{self.token(key, invoices, debtor, step, as_of)}"

    def token_of(self, text: str) -> str:
        """The token in a pasted link (`base_url/TOKEN`, possibly with `?…`) or the token itself."""
        text = text.strip()
        base = self.base_url.rstrip("/") + "/"
        if text.startswith(base):
            text = text[len(base):]
        return text.split("?", 1)[0].split("#", 1)[0]
