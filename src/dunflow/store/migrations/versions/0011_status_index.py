"""status at scale: cases counted per policy version and state from an index alone

Revision ID: 0011
Revises: 0007
"""
from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_version_state", ["policy_version_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_version_state")
