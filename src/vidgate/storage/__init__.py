"""Object stores keep inputs (by content hash) and output videos.

One small protocol, one class per backend: a local folder (the embedded default, storage/local.py)
or an S3 bucket (storage/s3.py), chosen by the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from vidgate.settings import Settings


class StorageUnavailable(RuntimeError):
    """The configured store cannot be used (a missing extra, an unreachable bucket)."""


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, source: Path) -> None:
        """Move `source` (a finished local file) under `key`, atomically: readers see all or nothing."""

    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes; None when there is none."""

    def delete(self, key: str) -> None:
        """Remove the object if it is there (no error when it is not)."""

    def local_path(self, key: str) -> Path | None:
        """The file behind `key` when the store is a local folder (served by the API), else None."""

    def download_url(self, key: str, expires_in: int, method: str = "GET") -> str | None:
        """A URL clients can fetch the object from directly with `method` (GET or HEAD) for
        `expires_in` seconds, or None when the API serves it itself (a local folder)."""


def check_key(key: str) -> None:
    """Keys are relative paths made by vidgate (`inputs/..`, `videos/..`): refuse anything else."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not an object key: {key!r}")


def open_store(settings: Settings) -> ObjectStore:
    if settings.storage_url:
        from vidgate.storage.s3 import S3Store

        return S3Store.from_settings(settings)
    from vidgate.storage.local import LocalStore

    return LocalStore(settings.resolved_storage_dir())
