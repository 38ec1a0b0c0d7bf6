"""Money on a notice reads exactly as Babel (CLDR) prints it, in every locale Babel ships."""
from __future__ import annotations

from decimal import Decimal

import pytest
from babel.localedata import locale_identifiers
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from dunflow.domain.money import Money, minor_digits
from dunflow.rendering import formats

CURRENCIES = ["EUR", "CHF", "JPY", "KWD", "USD", "INR"]
AMOUNTS = [Decimal(a) for a in ("0", "0.01", "-0.5", "7", "999.995", "1234.5", "-1234.5", "1000000", "12345678.9",
                                "-1000000000.125", "123456789012.34")]


@pytest.mark.parametrize("language", sorted(locale_identifiers()))
def test_money_matches_babel_in_every_locale(language: str) -> None:
    for currency in CURRENCIES:
        for amount in AMOUNTS:
            assert formats.money(amount, currency, language) == format_currency(amount, currency, locale=language), \
                (language, currency, amount)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(amount=st.decimals(min_value=Decimal("-1e13"), max_value=Decimal("1e13"), places=4),
       language=st.sampled_from(["de", "nl", "en", "fr", "de_CH", "fr_CH", "en_IN", "ar", "ar_EG", "fa", "pl", "hi"]),
       currency=st.sampled_from(CURRENCIES + ["BHD", "GBP"]))
def test_money_matches_babel_for_any_amount(amount: Decimal, language: str, currency: str) -> None:
    assert formats.money(amount, currency, language) == format_currency(amount, currency, locale=language)


def test_money_formats_the_usual_notices() -> None:
    assert formats.money(Decimal("1234.5"), "EUR", "de") == "1.234,50\xa0€"
    assert formats.money(Decimal("1234.5"), "EUR", "en") == "€1,234.50"
    assert formats.money(Decimal("1000"), "JPY", "en") == "¥1,000"
    assert formats.money(Decimal("1.25"), "KWD", "en") == "KWD1.250"


def test_money_knows_the_minor_unit_of_its_currency() -> None:
    assert (minor_digits("EUR"), minor_digits("JPY"), minor_digits("KWD")) == (2, 0, 3)
    assert str(Money(Decimal("1000"), "JPY")) == "1000 JPY"
    assert str(Money(Decimal("1.25"), "KWD")) == "1.250 KWD"
    assert Money(Decimal("333.5"), "JPY").quantize() == Money(Decimal("334"), "JPY")
    assert Money(Decimal("0.0005"), "KWD").quantize() == Money(Decimal("0.001"), "KWD")


def test_installments_are_split_in_the_currency_minor_unit() -> None:
    from datetime import date

    from dunflow.events.arrangements import schedule

    assert [a for _, a in schedule(Decimal("1000"), "JPY", 3, date(2027, 1, 1), "1m")] == \
        [Decimal("333"), Decimal("333"), Decimal("334")]
    assert [a for _, a in schedule(Decimal("10.000"), "KWD", 3, date(2027, 1, 1), "1m")] == \
        [Decimal("3.333"), Decimal("3.333"), Decimal("3.334")]
