"""Money is a Decimal amount with an ISO 4217 currency, never a float."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


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

    def quantize(self, exponent: int = 2) -> Money:
        """Round half-up to the currency's minor unit (2 decimals unless told)."""
        return Money(self.amount.quantize(Decimal(1).scaleb(-exponent), ROUND_HALF_UP), self.currency)

    def __str__(self) -> str:
        return f"{self.amount:.2f} {self.currency}"


def money_sum(values: list[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty list is zero in that currency."""
    total = Money.zero(currency)
    for value in values:
        total = total + value
    return total
