"""payments: EndToEndId kept apart from the entry key, reversals, debtors' known IBANs

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("end_to_end_id", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("reversed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reversal_reason", sa.Text(), nullable=False, server_default=""))
        batch.create_index("ix_payments_end_to_end_id", ["end_to_end_id"], unique=False)
    op.create_table(
        "debtor_ibans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("learned_from", sa.String(length=200), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("debtor_id", "iban"),
    )
    with op.batch_alter_table("debtor_ibans") as batch:
        batch.create_index("ix_debtor_ibans_iban", ["iban"], unique=False)


def downgrade() -> None:
    op.drop_table("debtor_ibans")
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("ix_payments_end_to_end_id")
        batch.drop_column("reversal_reason")
        batch.drop_column("reversed_on")
        batch.drop_column("end_to_end_id")
