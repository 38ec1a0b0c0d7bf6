"""Alembic migrations: the database schema's history, applied by `dunflow` on start."""
