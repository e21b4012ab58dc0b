"""Webhook delivery state on each task (the task row is the outbox; the URL stays in the params).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("webhook_state", sa.String(16)))
        batch.add_column(sa.Column("webhook_attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("webhook_next_ms", sa.BigInteger))
    op.create_index("ix_tasks_webhook", "tasks", ["webhook_state", "webhook_next_ms"])


def downgrade() -> None:
    op.drop_index("ix_tasks_webhook", "tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in ("webhook_next_ms", "webhook_attempts", "webhook_state"):
            batch.drop_column(column)
