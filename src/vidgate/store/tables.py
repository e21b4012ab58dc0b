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
    # TaskParams.render_estimate_ms, kept so that a queued task's ETA sums the work ahead in SQL.
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
)
