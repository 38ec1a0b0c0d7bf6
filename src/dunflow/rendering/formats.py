"""Locale formatting of money and dates for notices, with Babel as the source of truth.

Babel's `format_currency` re-interprets the locale's pattern on every call (~15 µs),
which made it the largest cost of a daily run. We ask Babel once per (locale,
currency) for the pattern's prefix, suffix, symbols and precision and then only
place digits. The fast path cannot drift from Babel: before it is used for a
(locale, currency) it must print exactly what Babel prints for a set of probe
amounts (every digit count up to trillions, both signs, rounding ties); if any
probe differs — a new CLDR pattern, a Babel quirk such as de_CH's apostrophe
grouping — that pair is formatted by Babel itself. A test runs every locale
Babel ships through both paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol


@lru_cache(maxsize=64)
def locale(language: str) -> Locale:
    return Locale.parse(language)


@dataclass(frozen=True)
class _CurrencyFormat:
    prefixes: tuple[str, str]
    suffixes: tuple[str, str]
    decimal: str
    group: str
    precision: int

    def apply(self, amount: Decimal) -> str:
        quantized = amount.quantize(Decimal(1).scaleb(-self.precision), rounding=ROUND_HALF_EVEN)
        digits = f"{abs(quantized):,.{self.precision}f}"
        digits = digits.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)
        negative = int(amount.is_signed())
        return f"{self.prefixes[negative]}{digits}{self.suffixes[negative]}"


@lru_cache(maxsize=256)
def _currency_format(language: str, currency: str) -> _CurrencyFormat | None:
    loc = locale(language)
    pattern = loc.currency_formats["standard"]
    symbols = loc.number_symbols.get("latn", {})
    if pattern.grouping != (3, 3) or not symbols or loc.default_numbering_system != "latn":
        return None
    symbol = get_currency_symbol(currency, loc)
    fast = _CurrencyFormat(
        prefixes=(pattern.prefix[0].replace("¤", symbol), pattern.prefix[1].replace("¤", symbol)),
        suffixes=(pattern.suffix[0].replace("¤", symbol), pattern.suffix[1].replace("¤", symbol)),
        decimal=symbols["decimal"], group=symbols["group"], precision=get_currency_precision(currency))
    agrees = all(fast.apply(amount) == format_currency(amount, currency, locale=loc) for amount in PROBES)
    return fast if agrees else None


def _probes() -> tuple[Decimal, ...]:
    """Amounts with 1 to 15 integer digits, fractions that round (ties included), zero, and their negatives."""
    amounts = [Decimal("0"), Decimal("0.005"), Decimal("0.5"), Decimal("2.5"), Decimal("0.0049")]
    for digits in range(1, 16):
        amounts += [Decimal("9" * digits + ".995"), Decimal("1" + "0" * (digits - 1) + ".125"),
                    Decimal("1234567890123456"[:digits] + ".5")]
    return tuple(amounts + [-a for a in amounts])


PROBES = _probes()


def money(amount: Decimal, currency: str, language: str) -> str:
    """`1234.5 EUR` → `1.234,50 €` (de), `€ 1.234,50` (nl), `€1,234.50` (en)."""
    return _money(amount, amount.is_signed(), currency, language)  # -0 and 0 are equal Decimals, not equal text


@lru_cache(maxsize=65536)  # a notice prints the same amounts more than once (a line, the total, the text)
def _money(amount: Decimal, signed: bool, currency: str, language: str) -> str:
    fast = _currency_format(language, currency)
    if fast is None:
        return format_currency(amount, currency, locale=locale(language))
    return fast.apply(amount)


@lru_cache(maxsize=4096)
def day(value: date, style: str, language: str) -> str:
    """`2026-12-01` → `1. Dezember 2026` (de, long)."""
    return babel_format_date(value, format=style, locale=locale(language))
