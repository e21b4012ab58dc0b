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
    Index("ix_tasks_claim", "status", "priority", "created_ms"),
    Index("ix_tasks_tenant_created", "tenant_id", "created_ms"),
    Index("ix_tasks_idempotency", "tenant_id", "idempotency_key", unique=True),
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
)
