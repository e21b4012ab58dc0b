"""Each task's render estimate, so that a queued task's ETA adds up the work ahead of it.

Queued tasks get theirs from their params; ended ones keep 0 (no ETA reads them).

Revision ID: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# As TaskParams.render_estimate_ms at the time of this migration (a migration must not change later).
SECONDS_PER_FRAME = {540: 0.01, 720: 0.02, 1080: 0.045}


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("estimate_ms", sa.BigInteger, nullable=False, server_default="0"))
    tasks = sa.table(
        "tasks", sa.column("id"), sa.column("status"), sa.column("params"), sa.column("estimate_ms")
    )
    connection = op.get_bind()
    waiting = connection.execute(sa.select(tasks.c.id, tasks.c.params).where(tasks.c.status == "QUEUED"))
    for task_id, params in waiting.all():
        values = json.loads(params)
        per_frame = SECONDS_PER_FRAME.get(int(values["resolution"].removesuffix("p")), 0.03)
        estimate = round(values["duration"] * 24 * per_frame * 1000)
        connection.execute(sa.update(tasks).where(tasks.c.id == task_id).values(estimate_ms=estimate))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("estimate_ms")
