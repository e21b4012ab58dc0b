"""Per-key limits (rate as a token bucket, concurrency, daily) and the key each task was submitted with.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("rate_limit", sa.Integer))
        batch.add_column(sa.Column("rate_period_s", sa.Integer, nullable=False, server_default="60"))
        batch.add_column(sa.Column("rate_tokens", sa.Float))
        batch.add_column(sa.Column("rate_updated", sa.Float))
        batch.add_column(sa.Column("max_concurrency", sa.Integer))
        batch.add_column(sa.Column("daily_quota", sa.Integer))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("key_id", sa.String(36)))
    op.create_index("ix_tasks_key_status", "tasks", ["key_id", "status"])
    op.create_index("ix_tasks_key_created", "tasks", ["key_id", "created_ms"])


def downgrade() -> None:
    op.drop_index("ix_tasks_key_created", "tasks")
    op.drop_index("ix_tasks_key_status", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("key_id")
    with op.batch_alter_table("api_keys") as batch:
        for column in ("daily_quota", "max_concurrency", "rate_updated", "rate_tokens", "rate_period_s"):
            batch.drop_column(column)
        batch.drop_column("rate_limit")
