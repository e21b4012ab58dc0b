"""The database schema (SQLAlchemy Core). Migrations in `migrations/versions` create it; a test
checks that the migrated database matches these tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("params", Text, nullable=False),  # TaskParams as JSON
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("eta", Integer, nullable=False, server_default="0"),
    Column("priority", Integer, nullable=False, server_default="0"),  # 0 normal, 1 off-peak
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False),
    Column("lease_owner", String(128)),
    Column("lease_until", Float),
    Column("output_key", Text),
    Column("result_info", Text, nullable=False, server_default="{}"),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64)),
    Column("created_ms", BigInteger, nullable=False),
    Column("started_ms", BigInteger),
    Column("completed_ms", BigInteger),
    Column("key_id", String(36)),  # the API key it was submitted with (its quotas count it)
    # Its engine's render estimate (EngineSpec.estimate_ms): a queued task's ETA sums the work ahead in SQL.
    Column("estimate_ms", BigInteger, nullable=False, server_default="0"),
    Index("ix_tasks_claim", "status", "priority", "created_ms"),
    Index("ix_tasks_tenant_created", "tenant_id", "created_ms"),
    Index("ix_tasks_idempotency", "tenant_id", "idempotency_key", unique=True),
    Index("ix_tasks_key_status", "key_id", "status"),
    Index("ix_tasks_key_created", "key_id", "created_ms"),
    # Webhook delivery (migration 0003): the task row is the outbox; see vidgate/webhooks.py.
    Column("webhook_state", String(16)),  # NULL (not yet), sending, retry, delivered, failed
    Column("webhook_attempts", Integer, nullable=False, server_default="0"),
    Column("webhook_next_ms", BigInteger),  # retry time, or the sender's lease while sending
    Index("ix_tasks_webhook", "webhook_state", "webhook_next_ms"),
    # Engine routing (migration 0005): the engine that runs the task, what it keeps across attempts
    # (e.g. an upstream task id, so a retry resumes it), and the last event pushed for the task.
    Column("engine", String(32), nullable=False, server_default="motion"),
    Column("engine_state", Text, nullable=False, server_default="{}"),
    Column("engine_event", Text),
    Index("ix_tasks_engine_claim", "status", "engine", "priority", "created_ms"),
    # Retention (migration 0006): when the sweeper deleted the task's video (the row is kept).
    Column("expired_ms", BigInteger),
    Index("ix_tasks_completed", "status", "completed_ms"),
    Index("ix_tasks_output_key", "output_key"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
    # Limits (NULL = unlimited) and the rate's token bucket: tokens left as of `rate_updated` (epoch s).
    Column("rate_limit", Integer),
    Column("rate_period_s", Integer, nullable=False, server_default="60"),
    Column("rate_tokens", Float),
    Column("rate_updated", Float),
    Column("max_concurrency", Integer),
    Column("daily_quota", Integer),
    Column("engine", String(32)),  # pinned: the key's tasks run on this engine (NULL: any enabled)
)

# Live workers and the engines each runs (migration 0005): `seen_ms` is renewed while it runs, so the
# API can say which engine has no worker.
workers = Table(
    "workers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("engines", Text, nullable=False),  # comma-separated engine names
    Column("started_ms", BigInteger, nullable=False),
    Column("seen_ms", BigInteger, nullable=False),
)

# Stored inputs by content hash (migration 0006): a submit that uses one renews `last_used_ms` in its
# task's transaction; the sweeper deletes one unused for the retention period (see store/retention.py).
inputs = Table(
    "inputs",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("last_used_ms", BigInteger, nullable=False),
    Index("ix_inputs_last_used", "last_used_ms"),
)

# The usage ledger (migration 0007): written in the transaction of a task's insert and of its terminal
# transition, so each task counts once however many attempts it took (see store/usage.py).
USAGE_COUNTS = ("submitted", "succeeded", "failed", "cancelled")
usage = Table(
    "usage",
    metadata,
    Column("tenant_id", String(128), primary_key=True),
    Column("key_id", String(36), primary_key=True),  # "" for tasks submitted without a key
    Column("engine", String(32), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in USAGE_COUNTS),
    Column("video_seconds", Float, nullable=False, server_default="0"),
    Column("render_seconds", Float, nullable=False, server_default="0"),
    Index("ix_usage_day", "day"),
    Index("ix_usage_key_day", "key_id", "day"),
)
