"""tasks: the queue of work for people (calls, address searches, hand-overs, dead deliveries)

Revision ID: 0010
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0011"  # merged after 0011 (ids were reserved per branch; the chain is the merge order)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("message_key", sa.String(length=200), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("assignee", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, server_default="open"),
        sa.Column("outcome", sa.String(length=16), nullable=False, server_default=""),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_key"),
    )
    with op.batch_alter_table("tasks") as batch:
        batch.create_index(batch.f("ix_tasks_status"), ["status"], unique=False)
        batch.create_index(batch.f("ix_tasks_debtor_id"), ["debtor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index(batch.f("ix_tasks_debtor_id"))
        batch.drop_index(batch.f("ix_tasks_status"))
    op.drop_table("tasks")
