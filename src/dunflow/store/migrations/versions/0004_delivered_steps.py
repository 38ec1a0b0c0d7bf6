"""cases: the last step the debtor received; outbox: the day a message was delivered

A step counts once it was delivered (issue 13): `cases.delivered_state` is the
dunning state whose notice the debtor last received (`new`: none yet), and
`outbox.delivered_on` the day the ladder counts the next step from. Existing cases
are taken as having received the step they are at: before this revision every
queued step counted.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("delivered_state", sa.String(length=64), nullable=False, server_default="new"))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("delivered_on", sa.Date(), nullable=True))
    op.create_index("ix_actions_message_key", "actions", ["message_key"])  # message → the cases it moved
    op.execute("UPDATE cases SET delivered_state = COALESCE(resume_state, state)")


def downgrade() -> None:
    op.drop_index("ix_actions_message_key", table_name="actions")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("delivered_on")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("delivered_state")
