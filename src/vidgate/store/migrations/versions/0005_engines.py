"""Engine routing: each task records its engine (existing rows ran on `motion`), the state its engine
keeps across attempts and the last event pushed for it (an upstream provider's callback); a key may
be pinned to an engine; workers announce which engines they run.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("engine", sa.String(32), nullable=False, server_default="motion"))
        batch.add_column(sa.Column("engine_state", sa.Text, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("engine_event", sa.Text))
    op.create_index("ix_tasks_engine_claim", "tasks", ["status", "engine", "priority", "created_ms"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("engine", sa.String(32)))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("engines", sa.Text, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("seen_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("engine")
    op.drop_index("ix_tasks_engine_claim", "tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in ("engine_event", "engine_state", "engine"):
            batch.drop_column(column)
