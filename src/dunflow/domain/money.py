"""Money is a Decimal amount with an ISO 4217 currency, never a float."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision


@lru_cache(maxsize=None)
def minor_digits(currency: str) -> int:
    """Digits of the currency's minor unit (EUR 2, JPY 0, KWD 3), from CLDR via Babel: one source, no table to
    keep up to date by hand."""
    return int(get_currency_precision(currency))


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency: 0.01 EUR, 1 JPY, 0.001 KWD."""
    return Decimal(1).scaleb(-minor_digits(currency))


@dataclass(frozen=True, order=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money needs a Decimal amount, got {type(self.amount).__name__}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0"), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def quantize(self) -> Money:
        """Round half-up to the currency's minor unit (cents for EUR, whole yen for JPY)."""
        return Money(self.amount.quantize(minor_unit(self.currency), ROUND_HALF_UP), self.currency)

    def __str__(self) -> str:
        """`1234.50 EUR`, `1000 JPY`, `1.250 KWD`: as many decimals as the currency has."""
        return f"{self.amount:.{minor_digits(self.currency)}f} {self.currency}"


def money_sum(values: list[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty list is zero in that currency."""
    total = Money.zero(currency)
    for value in values:
        total = total + value
    return total
