"""delivery states: claim lease, next attempt, dead reason; delivery attempts

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0009"  # merged after 0009 (ids were reserved per branch; the chain is the merge order)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dead_reason", sa.Text(), nullable=False, server_default=""))
        batch.create_index("ix_outbox_next_attempt_at", ["next_attempt_at"], unique=False)
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("where", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.create_index("ix_delivery_attempts_message_id", ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_index("ix_delivery_attempts_message_id")
    op.drop_table("delivery_attempts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_next_attempt_at")
        batch.drop_column("dead_reason")
        batch.drop_column("next_attempt_at")
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
