"""All of vidgate's configuration, in one typed place.

Precedence: `VIDGATE_*` environment variables > `.env` file > the defaults below. No other module
reads the environment. docs/configuration.md documents every field; keep the two in step.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vidgate.tasks.offpeak import parse_window


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDGATE_", env_file=".env", extra="ignore")

    # Where the embedded defaults live: the SQLite database, stored objects, the dev key.
    data_dir: Path = Path("var")
    # SQLAlchemy URL. Empty = SQLite file `<data_dir>/vidgate.db`.
    # PostgreSQL: `postgresql+psycopg://user@host:5432/db` (needs the `postgres` extra).
    database_url: str = ""
    # Where inputs and videos are kept. Empty = local folder `<data_dir>/objects`.
    storage_dir: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    # Base of the URLs handed to clients (video_url). Empty = the URL the request came in on.
    public_base_url: str = ""
    # Secret for signing video URLs. Empty = generated once and kept in `<data_dir>/signing-secret`,
    # so that every process sharing the data folder signs alike. Set it when API processes do not.
    signing_secret: str = ""
    video_url_ttl: int = Field(3600, ge=60, le=7 * 24 * 3600)

    # Embedded worker processes started by `vidgate serve` (0 = API only).
    workers: int = Field(1, ge=0, le=64)
    engine: Literal["motion"] = "motion"
    # A worker holds a task for this long; a heartbeat renews it every third of it.
    lease_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=20)
    # How often an idle worker looks for work on a database without push notification.
    poll_interval: float = Field(0.05, gt=0)
    sweep_interval: float = Field(5.0, gt=0)
    # Off-peak tasks also run inside this daily window (worker's local time), e.g. "22:00-06:00".
    off_peak_window: str = ""
    # An off-peak task not done this many hours after submit fails with OFF_PEAK_EXPIRED.
    off_peak_deadline_hours: float = Field(48.0, gt=0)

    # Inputs.
    max_request_bytes: int = Field(60 * 1024 * 1024, ge=1024)
    max_images: int = Field(8, ge=1, le=64)
    max_image_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(40_000_000, ge=1)
    fetch_timeout: float = Field(15.0, gt=0)
    # Allow image URLs that resolve to loopback/private addresses (local use and tests only).
    allow_private_urls: bool = False

    # Encoding: pinned x264 threads keep output byte-identical across machines.
    encoder_threads: int = Field(2, ge=1, le=16)
    quality: Literal["fast", "balanced", "best"] = "balanced"

    @field_validator("off_peak_window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        parse_window(value)
        return value.strip()

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vidgate.db'}"

    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "objects"

    def resolved_signing_secret(self) -> str:
        if self.signing_secret:
            return self.signing_secret
        path = self.data_dir / "signing-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            _write_private(path, secrets.token_hex(32))
        return path.read_text().strip()


def _write_private(path: Path, text: str) -> None:
    """Create `path` (owner-only) with its whole content, or leave it if another process already did:
    the content is written to a temporary file first and hard-linked into place, so no reader ever
    sees a half-written secret."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
