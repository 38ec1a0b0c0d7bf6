"""SMS and webhooks over HTTP(S) (urllib): a JSON body, signed, with an idempotency key.

Each request is a POST of the message as JSON with
- `X-Dunflow-Timestamp`: Unix seconds at sending;
- `X-Dunflow-Signature`: `sha256=` + hex HMAC-SHA256 with the channel's secret over `timestamp + "." + body`
  (the receiver recomputes it over the raw body and rejects old timestamps, against replays);
- `Idempotency-Key`: the message key, the same for every attempt at one message: a receiver that saw it drops
  the repeat.

Answers: 2xx delivered; 408, 429 and 5xx, a timeout or a network error → temporary (retried); any other 4xx →
permanent (no retry can help).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any, Callable

from dunflow.delivery.errors import PermanentFailure, TemporaryFailure
from dunflow.errors import DunflowError

FIELDS = ("key", "channel", "recipient", "language", "template", "step", "subject", "body", "invoice_numbers",
          "created_on")
RETRYABLE = frozenset({408, 425, 429})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def payload(message: dict[str, Any]) -> bytes:
    return json.dumps({f: message.get(f) for f in FIELDS}, default=str, ensure_ascii=False,
                      separators=(",", ":")).encode()


class HttpChannel:
    record_each = True

    def __init__(self, url: str, secret: str, *, timeout: float = 10, rate_per_second: float = 0,
                 now: Callable[[], float] = time.time, ca_file: str = "") -> None:
        self.url, self.secret, self.timeout, self.now = url, secret, timeout, now
        # https: the certificate and host name are always verified, against the system's CAs or `ca_file`'s
        self.context = ssl.create_default_context(cafile=ca_file or None) if url.startswith("https://") else None
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self._next_slot = 0.0
        self._unreachable = ""  # after a network error or timeout the rest of this send fails fast

    def deliver(self, message: dict[str, Any]) -> str:
        if self._unreachable:
            raise TemporaryFailure(f"{self._unreachable} (not tried again in this send)")
        body = payload(message)
        timestamp = str(int(self.now()))
        key = "".join(c for c in str(message["key"]) if c.isprintable())
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "dunflow",
            "X-Dunflow-Timestamp": timestamp, "X-Dunflow-Signature": signature(self.secret, timestamp, body),
            "Idempotency-Key": key})
        if self.interval:
            wait = self._next_slot - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._next_slot = max(time.monotonic(), self._next_slot) + self.interval
        try:
            with urllib.request.urlopen(request, timeout=self.timeout,  # noqa: S310 - http(s) checked
                                        context=self.context) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            text = exc.read(300).decode(errors="replace").strip()
            reason = f"HTTP {exc.code} from {self.url}" + (f": {text}" if text else "")
            if exc.code >= 500 or exc.code in RETRYABLE:
                raise TemporaryFailure(reason) from None
            raise PermanentFailure(reason) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):  # every message would fail the same way
                raise DunflowError(f"{self.url}: the server's TLS certificate is not trusted "
                                   f"({exc.reason.verify_message or exc.reason.reason})",
                                   "if it comes from your company's own CA, set ca_file: to that CA's certificate "
                                   "(PEM) in the channel") from None
            self._unreachable = f"{self.url}: {getattr(exc, 'reason', exc)}"
            raise TemporaryFailure(self._unreachable) from None
        except OSError as exc:
            self._unreachable = f"{self.url}: {getattr(exc, 'reason', exc)}"
            raise TemporaryFailure(self._unreachable) from None
        return f"{self.url} {status}"
