"""The fast money formatter must print exactly what Babel prints."""
from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from hypothesis import given, settings, strategies as st

from dunflow.adapters import formats

LANGUAGES = ["de", "nl", "en", "fr", "de_CH", "en_IN", "ar", "es", "it", "pl"]
CURRENCIES = ["EUR", "GBP", "CHF", "JPY", "BHD", "USD", "PLN"]


@settings(max_examples=400, deadline=None)
@given(amount=st.decimals(min_value=Decimal("-10000000"), max_value=Decimal("10000000"), places=3),
       language=st.sampled_from(LANGUAGES), currency=st.sampled_from(CURRENCIES))
def test_money_matches_babel_format_currency(amount: Decimal, language: str, currency: str) -> None:
    assert formats.money(amount, currency, language) == format_currency(amount, currency, locale=language)


def test_money_formats_the_usual_notices() -> None:
    assert formats.money(Decimal("1234.5"), "EUR", "de") == "1.234,50\xa0€"
    assert formats.money(Decimal("1234.5"), "EUR", "en") == "€1,234.50"
