"""The PostgreSQL the `postgres`-marked tests use: CI's, named by VIDGATE_TEST_POSTGRES_URL."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, text

from vidgate.store.db import open_engine

POSTGRES_URL = os.environ.get("VIDGATE_TEST_POSTGRES_URL", "")


def postgres_engine() -> Engine:
    """An engine on an empty database (every vidgate table dropped); skips the test when there is none."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need VIDGATE_TEST_POSTGRES_URL (CI sets it)")
    engine = open_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("DROP TABLE IF EXISTS tasks, api_keys, workers, inputs, usage, alembic_version")
            )
    except Exception as exc:
        pytest.skip(f"PostgreSQL at VIDGATE_TEST_POSTGRES_URL is unreachable: {exc}")
    return engine
