"""Signed, expiring URLs for result files: HMAC-SHA256 over the object key and the expiry time."""

from __future__ import annotations

import hashlib
import hmac

from vidgate import clock


def sign(secret: str, key: str, expires: int) -> str:
    message = f"{key}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_query(secret: str, key: str, ttl: int, now: float | None = None) -> str:
    expires = int((now or clock.now()) + ttl)
    return f"expires={expires}&signature={sign(secret, key, expires)}"


def verify(secret: str, key: str, expires: int, signature: str, now: float | None = None) -> bool:
    if expires < (now or clock.now()):
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a mismatch).
    return hmac.compare_digest(sign(secret, key, expires).encode(), signature.encode("utf-8", "replace"))
