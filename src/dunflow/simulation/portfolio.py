"""`simulate --portfolio`: a portfolio from files instead of the project's database.

A folder with `invoices.csv` (and optionally `debtors.csv`), or one invoices file whose rows carry their
debtors' columns, is imported through the ordinary importers into a temporary database, under the given
policies. The simulation then copies that database like any other.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine

from dunflow.clock import FixedClock
from dunflow.errors import DunflowError
from dunflow.ledger.invoices import import_debtors, import_invoices
from dunflow.policy.validate import PolicySet
from dunflow.store.copy import throwaway_engine
from dunflow.store.uow import Store


@contextmanager
def portfolio_database(path: Path, policies: PolicySet, on: date) -> Iterator[Engine]:
    """A temporary database holding the portfolio at `path`, imported on `on`; deleted afterwards."""
    invoices = path / "invoices.csv" if path.is_dir() else path
    if not invoices.is_file():
        raise DunflowError(f"{invoices}: no such file", "give an invoices file, or a folder with invoices.csv")
    with tempfile.TemporaryDirectory(prefix="dunflow-portfolio-") as folder:
        engine = throwaway_engine(Path(folder) / "portfolio.db")
        try:
            store = Store(engine, FixedClock(datetime.combine(on, time(6), tzinfo=timezone.utc)))
            with store.writing() as uow:
                ids = uow.versions.register(policies, uow.clock.now())
                if (path / "debtors.csv").is_file():
                    import_debtors(uow, path / "debtors.csv")
                import_invoices(uow, invoices, policies, ids, on)
            yield engine
        finally:
            engine.dispose()
