"""Header values of a mail: non-ASCII text becomes RFC 2047 words that decode to the same text, none too long."""
from __future__ import annotations

from email.header import decode_header, make_header

import pytest
from hypothesis import given, strategies as st

from dunflow.delivery.errors import PermanentFailure
from dunflow.delivery.mail import header_text


def decoded(header: str) -> str:
    return str(make_header(decode_header(header)))


@pytest.mark.parametrize("text", [
    "Zahlungserinnerung: Rechnung B-0001234 – bitte prüfen, fällig am 3. Dezember 2026",
    "Émile", "ü" * 200, "日本語のテキスト" * 20, "Mahnung 🙂 " * 12, "a_b=c?d ü",
])
def test_non_ascii_text_is_encoded_in_words_of_at_most_75_characters(text: str) -> None:
    header = header_text(text, "subject")
    assert header.isascii() and decoded(header) == text
    assert all(len(word) <= 75 for word in header.split("\n "))


@given(st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=["Cs"]), min_size=1, max_size=300))
def test_any_text_without_line_breaks_decodes_to_itself(text: str) -> None:
    header = header_text(text, "subject")
    assert header.isascii()
    if not text.isascii():
        assert decoded(header) == text and all(len(word) <= 75 for word in header.split("\n "))


def test_ascii_text_stays_as_it_is() -> None:
    assert header_text("Reminder: invoice R-1", "subject") == "Reminder: invoice R-1"


@pytest.mark.parametrize("text", ["Mahnung\nBcc: x@y.example", "a\rb", "a\0b"])
def test_a_line_break_or_nul_is_refused(text: str) -> None:
    with pytest.raises(PermanentFailure, match="header injection"):
        header_text(text, "subject")
