"""Payment-link tokens: signed, url-safe, valid up to and including their last day, forged when touched."""
from __future__ import annotations

import re
from datetime import date

import pytest

from dunflow.domain.links import EXPIRED, FORGED, VALID, LinkClaims, PaymentLinks, sign, verify

SECRET = b"s3cret-for-tests"
CLAIMS = LinkClaims("group:7:EUR:case:12:r3", ("R-1", "R-2"), "D-1001", "first-notice", date(2027, 1, 30))


def test_a_token_is_url_safe_and_names_its_notice() -> None:
    token = sign(CLAIMS, SECRET)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)
    verdict = verify(token, SECRET, date(2026, 12, 1))
    assert (verdict.status, verdict.claims) == (VALID, CLAIMS)


def test_a_token_is_valid_on_its_last_day_and_expired_the_day_after() -> None:
    token = sign(CLAIMS, SECRET)
    assert verify(token, SECRET, date(2027, 1, 30)).status == VALID
    expired = verify(token, SECRET, date(2027, 1, 31))
    assert (expired.status, expired.claims) == (EXPIRED, CLAIMS)


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    lambda t: "x" + t,  # payload changed
    lambda t: t.split(".")[0],  # no signature
    lambda t: "",
    lambda t: "not a token at all",
    lambda t: t.replace(".", ".."),
])
def test_a_changed_token_is_forged(tamper: object) -> None:
    token = sign(CLAIMS, SECRET)
    assert callable(tamper)
    verdict = verify(tamper(token), SECRET, date(2026, 12, 1))
    assert verdict.status == FORGED and verdict.claims is None and verdict.why


def test_another_secret_makes_a_token_forged() -> None:
    assert verify(sign(CLAIMS, SECRET), b"other", date(2026, 12, 1)).status == FORGED


def test_the_same_notice_on_the_same_day_gets_the_same_link_and_it_expires_after_valid_days() -> None:
    links = PaymentLinks("https://pay.example.com/p/", SECRET, valid_days=60)
    first = links.link("case:1:r0:reminder", ["R-1"], "D-1", "reminder", date(2026, 12, 1))
    assert first == links.link("case:1:r0:reminder", ["R-1"], "D-1", "reminder", date(2026, 12, 1))
    assert first.startswith("https://pay.example.com/p/") and "//" not in first.removeprefix("https://")
    token = links.token_of(first + "?utm_source=mail")
    assert verify(token, SECRET, date(2027, 1, 30)).claims == LinkClaims(
        "case:1:r0:reminder", ("R-1",), "D-1", "reminder", date(2027, 1, 30))


def test_signing_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        sign(CLAIMS, b"")
