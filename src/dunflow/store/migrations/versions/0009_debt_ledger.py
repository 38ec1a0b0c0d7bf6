"""debt sub-ledger (charges and their payments) and collection hand-over

Revision ID: 0009
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dunflow.store.types

revision = "0009"
down_revision = "0010"  # merged after 0010 (ids were reserved per branch; the chain is the merge order)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "debts",
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("first_notice_on", sa.Date(), nullable=True),
        sa.Column("letter_on", sa.Date(), nullable=True),
        sa.Column("interest_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_table(
        "debt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("amount", dunflow.store.types.Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("basis", sa.JSON(), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key"),
    )
    with op.batch_alter_table("debt_lines") as batch:
        batch.create_index(batch.f("ix_debt_lines_invoice_id"), ["invoice_id"], unique=False)
    op.create_table(
        "debt_line_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("amount", dunflow.store.types.Amount(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["debt_lines.id"]),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("debt_line_payments") as batch:
        batch.create_index(batch.f("ix_debt_line_payments_line_id"), ["line_id"], unique=False)
        batch.create_index(batch.f("ix_debt_line_payments_payment_id"), ["payment_id"], unique=False)
    op.create_table(
        "collection_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("handed_on", sa.Date(), nullable=False),
        sa.Column("recalled_on", sa.Date(), nullable=True),
        sa.Column("recall_reason", sa.Text(), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id"),
    )
    op.create_table(
        "collection_reported",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_case_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["collection_case_id"], ["collection_cases.id"]),
        sa.ForeignKeyConstraint(["allocation_id"], ["allocations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("collection_case_id", "allocation_id"),
    )


def downgrade() -> None:
    op.drop_table("collection_reported")
    op.drop_table("collection_cases")
    with op.batch_alter_table("debt_line_payments") as batch:
        batch.drop_index(batch.f("ix_debt_line_payments_payment_id"))
        batch.drop_index(batch.f("ix_debt_line_payments_line_id"))
    op.drop_table("debt_line_payments")
    with op.batch_alter_table("debt_lines") as batch:
        batch.drop_index(batch.f("ix_debt_lines_invoice_id"))
    op.drop_table("debt_lines")
    op.drop_table("debts")
