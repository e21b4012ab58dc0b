"""Object stores keep inputs (by content hash) and output videos.

One small protocol, one class per backend."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from vidgate.settings import Settings


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, source: Path) -> None:
        """Move `source` (a finished local file) under `key`, atomically: readers see all or nothing."""

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """The file behind `key` when the store is a local folder (served by the API), else None."""


def open_store(settings: Settings) -> ObjectStore:
    from vidgate.storage.local import LocalStore

    return LocalStore(settings.resolved_storage_dir())
