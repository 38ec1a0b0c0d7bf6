"""The schema's text column lengths, read from the ORM, so imports check exactly what PostgreSQL enforces.

SQLite ignores `VARCHAR(n)`; PostgreSQL refuses a longer value with a `DataError` in the middle of a
transaction. Checking every field against these lengths at the edge makes both backends accept the
same files, and data loaded on SQLite can move to PostgreSQL.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from sqlalchemy import String

from dunflow.store.orm import Debtor, Invoice, table_of


def _lengths(model: type[Debtor] | type[Invoice]) -> Mapping[str, int]:
    return MappingProxyType({column.name: column.type.length for column in table_of(model).columns
                             if isinstance(column.type, String) and column.type.length})


DEBTOR_LENGTHS = _lengths(Debtor)
INVOICE_LENGTHS = _lengths(Invoice)
