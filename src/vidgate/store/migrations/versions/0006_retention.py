"""Retention: stored inputs get a row each (their size and when a submit last used them), so the
sweeper can delete the ones nobody used for `VIDGATE_RETENTION` without racing a submit that reuses
one; a task whose video was deleted records when (its row is kept).

Inputs stored before this migration have no row and are never deleted by vidgate (see
docs/operations.md for an S3 lifecycle rule, or a one-off clean-up).

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inputs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("last_used_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_inputs_last_used", "inputs", ["last_used_ms"])
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("expired_ms", sa.BigInteger))
    op.create_index("ix_tasks_completed", "tasks", ["status", "completed_ms"])
    op.create_index("ix_tasks_output_key", "tasks", ["output_key"])


def downgrade() -> None:
    op.drop_index("ix_tasks_output_key", "tasks")
    op.drop_index("ix_tasks_completed", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("expired_ms")
    op.drop_index("ix_inputs_last_used", "inputs")
    op.drop_table("inputs")
