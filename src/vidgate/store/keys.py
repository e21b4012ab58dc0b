"""API keys: created with their limits, stored only as a hash, looked up in constant time, revoked.

A part of the task store (`store.keys`), sharing its database, so keys and tasks share one engine and
one SQLite write lock.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from vidgate.clock import now_ms
from vidgate.store.database import Database
from vidgate.store.tables import api_keys
from vidgate.tasks.limits import KeyLimits
from vidgate.tasks.model import ApiKey

KEY_PREFIX = "vg_"


class Revocation(enum.Enum):
    """What `revoke` did: callers tell an unknown key from one they must name more precisely."""

    REVOKED = enum.auto()
    NO_MATCH = enum.auto()
    AMBIGUOUS = enum.auto()


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_from_row(row: Any) -> ApiKey:
    limits = KeyLimits(row.rate_limit, row.rate_period_s, row.max_concurrency, row.daily_quota)
    return ApiKey(
        row.id, row.tenant_id, row.name, row.prefix, row.created_ms, row.revoked_ms, limits, row.engine
    )


class KeyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        name: str,
        tenant_id: str | None = None,
        limits: KeyLimits | None = None,
        engine: str | None = None,
    ) -> tuple[ApiKey, str]:
        """Returns the key record and the secret, which is shown once and stored only as a hash.
        With `engine`, the key's tasks run on that engine only."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        limits = limits or KeyLimits()
        key = ApiKey(str(uuid.uuid4()), tenant_id or name, name, secret[:10], now_ms(), None, limits, engine)
        row = {k: v for k, v in key.__dict__.items() if k != "limits"} | {
            "key_hash": hash_key(secret),
            "rate_limit": limits.rate,
            "rate_period_s": limits.rate_period_s,
            "max_concurrency": limits.concurrency,
            "daily_quota": limits.daily,
        }
        with self.db.write_transaction() as conn:
            conn.execute(insert(api_keys).values(row))
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        digest = hash_key(secret)
        with self.db.read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == digest)).one_or_none()
        # The lookup is by a hash of a 256-bit secret; the constant-time compare keeps it that way.
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_ms is not None:
            return None
        return key_from_row(row)

    def list(self) -> Sequence[ApiKey]:
        with self.db.read() as conn:
            return [key_from_row(r) for r in conn.execute(select(api_keys).order_by(api_keys.c.created_ms))]

    def revoke(self, key_id_or_prefix: str) -> Revocation:
        """Revoke the one active key with this id, or whose prefix starts with this text (the whole
        prefix `list` shows, or enough of it to name one key); none when several match."""
        if not key_id_or_prefix:
            return Revocation.NO_MATCH  # every prefix starts with "": it names no key
        # substr, not LIKE: SQLite's LIKE ignores case, and prefixes are case-sensitive base64.
        prefix_starts_with = func.substr(api_keys.c.prefix, 1, len(key_id_or_prefix)) == key_id_or_prefix
        matches = (
            select(api_keys.c.id)
            .where(or_(api_keys.c.id == key_id_or_prefix, prefix_starts_with))
            .where(api_keys.c.revoked_ms.is_(None))
        )
        with self.db.write_transaction() as conn:
            ids = list(conn.execute(matches).scalars())
            if len(ids) != 1:
                return Revocation.AMBIGUOUS if ids else Revocation.NO_MATCH
            conn.execute(update(api_keys).where(api_keys.c.id == ids[0]).values(revoked_ms=now_ms()))
        return Revocation.REVOKED
