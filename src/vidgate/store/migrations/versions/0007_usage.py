"""The usage ledger: per tenant, key, engine and UTC day, the tasks submitted and ended and the
seconds of video delivered and of rendering. Filled from the tasks already there, so the daily
quotas (which read it) stay exact across the upgrade.

Revision ID: 0007
"""

import json
from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COUNTS = ("submitted", "succeeded", "failed", "cancelled")


def upgrade() -> None:
    usage = op.create_table(
        "usage",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("key_id", sa.String(36), primary_key=True),  # "" for tasks submitted without a key
        sa.Column("engine", sa.String(32), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, UTC
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in COUNTS),
        sa.Column("video_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("render_seconds", sa.Float, nullable=False, server_default="0"),
    )
    op.create_index("ix_usage_day", "usage", ["day"])
    op.create_index("ix_usage_key_day", "usage", ["key_id", "day"])
    rows: dict[tuple[str, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tasks = sa.table(
        "tasks",
        *(sa.column(name) for name in ("tenant_id", "key_id", "engine", "status", "reason", "params")),
        *(sa.column(name) for name in ("created_ms", "started_ms", "completed_ms")),
    )
    for task in op.get_bind().execute(sa.select(tasks)):
        who = (task.tenant_id, task.key_id or "", task.engine)
        rows[(*who, _day(task.created_ms))]["submitted"] += 1
        if task.status not in ("SUCCEED", "FAILED") or task.completed_ms is None:
            continue
        ended = rows[(*who, _day(task.completed_ms))]
        if task.status == "SUCCEED":
            ended["succeeded"] += 1
            ended["video_seconds"] += float(json.loads(task.params).get("duration", 0))
        else:
            ended["cancelled" if task.reason == "CANCELED" else "failed"] += 1
        if task.started_ms is not None:
            ended["render_seconds"] += max(0, task.completed_ms - task.started_ms) / 1000
    if rows:
        op.bulk_insert(
            usage,
            [
                dict(zip(("tenant_id", "key_id", "engine", "day"), who, strict=True))
                | {name: int(figures.get(name, 0)) for name in COUNTS}
                | {"video_seconds": figures.get("video_seconds", 0.0)}
                | {"render_seconds": figures.get("render_seconds", 0.0)}
                for who, figures in rows.items()
            ],
        )


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def downgrade() -> None:
    op.drop_index("ix_usage_key_day", "usage")
    op.drop_index("ix_usage_day", "usage")
    op.drop_table("usage")
