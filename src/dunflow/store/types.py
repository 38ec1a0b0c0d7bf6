"""Column types that migrations refer to by name.

Alembic writes `dunflow.store.types.Amount` into every migration that creates an amount column
(`user_module_prefix` in migrations/env.py), so this module's path and the types in it must stay where they
are even when the rest of the code moves: old migrations import it by that name.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Numeric, String, TypeDecorator

_CENT = Decimal("0.01")


class Amount(TypeDecorator[Decimal]):
    """Exact Decimal on every backend."""

    impl = Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(18, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"amounts must be Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Same text on every backend: NUMERIC(18,4)'s padding zeros beyond the cent are dropped."""
        if value is None:
            return None
        amount = Decimal(str(value))
        cents = amount.quantize(_CENT)
        return cents if cents == amount else amount.normalize()
