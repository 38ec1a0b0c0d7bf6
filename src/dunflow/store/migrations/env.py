"""Alembic environment: runs migrations on the connection dunflow hands over."""
from __future__ import annotations

from alembic import context

import dunflow.store.applies  # noqa: F401  (its tables join Base.metadata)
from dunflow.store.orm import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True, user_module_prefix="dunflow.store.types.")
with context.begin_transaction():
    context.run_migrations()
