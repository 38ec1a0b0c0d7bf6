"""case failures (a case whose notice could not be rendered, retried by the next run); repeats of a step;
the invoice's own e-mail contact

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("case_revision", sa.Integer(), nullable=False),
        sa.Column("first_failed_on", sa.Date(), nullable=False),
        sa.Column("failed_on", sa.Date(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("hint", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
    )
    with op.batch_alter_table("case_failures") as batch:
        batch.create_index(batch.f("ix_case_failures_debtor_id"), ["debtor_id"], unique=False)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("repeats", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("email", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("email")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("repeats")
    with op.batch_alter_table("case_failures") as batch:
        batch.drop_index(batch.f("ix_case_failures_debtor_id"))
    op.drop_table("case_failures")
