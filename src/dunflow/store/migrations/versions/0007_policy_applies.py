"""policy lifecycle: applies, activations, active policies

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_applies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("plan_digest", sa.String(length=64), nullable=False),
        sa.Column("cases_moved", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "policy_activations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("policy_version_id", sa.Integer(), nullable=True),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["apply_id"], ["policy_applies.id"]),
        sa.ForeignKeyConstraint(["policy_version_id"], ["policy_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("policy_activations") as batch:
        batch.create_index(batch.f("ix_policy_activations_apply_id"), ["apply_id"], unique=False)
        batch.create_index(batch.f("ix_policy_activations_name"), ["name"], unique=False)
    op.create_table(
        "active_policies",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("policy_version_id", sa.Integer(), nullable=False),
        sa.Column("apply_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["apply_id"], ["policy_applies.id"]),
        sa.ForeignKeyConstraint(["policy_version_id"], ["policy_versions.id"]),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("active_policies")
    with op.batch_alter_table("policy_activations") as batch:
        batch.drop_index(batch.f("ix_policy_activations_name"))
        batch.drop_index(batch.f("ix_policy_activations_apply_id"))
    op.drop_table("policy_activations")
    op.drop_table("policy_applies")
