"""All of vidgate's configuration, in one typed place.

Precedence: `VIDGATE_*` environment variables > `.env` file > the defaults below. No other module
reads the environment. docs/configuration.md documents every field; keep the two in step.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vidgate.media.audio.voices import BY_ID as VOICES_BY_ID
from vidgate.media.audio.voices import DEFAULT_VOICE_ID
from vidgate.tasks.limits import parse_rate
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
    # An S3 bucket instead of a folder: `s3://bucket` or `s3://bucket/prefix` (needs the `s3` extra).
    storage_url: str = Field("", pattern=r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^?#]*)?)?$")
    # Any S3 API other than AWS (MinIO, Ceph, R2...): its URL. Empty = AWS, by region.
    s3_endpoint_url: str = ""
    # The endpoint clients download videos from, when it differs from the one vidgate uses.
    s3_public_endpoint_url: str = ""
    s3_region: str = ""
    # Empty = boto3's own credential chain (its environment variables, ~/.aws, an instance role).
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")

    host: str = "127.0.0.1"
    port: int = 8000
    # Base of the URLs handed to clients (video_url). Empty = the URL the request came in on.
    public_base_url: str = ""
    # Secret for signing video URLs. Empty = generated once and kept in `<data_dir>/signing-secret`,
    # so that every process sharing the data folder signs alike. Set it when API processes do not.
    signing_secret: str = ""
    video_url_ttl: int = Field(3600, ge=60, le=7 * 24 * 3600)
    # Standard Webhooks secret (`whsec_<base64>`) signing webhook deliveries. Empty = generated once
    # and kept in `<data_dir>/webhook-secret`; `vidgate webhook-secret` prints it.
    webhook_secret: str = Field("", pattern=r"^(whsec_[A-Za-z0-9+/]+={0,2})?$")

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

    # Limits a new API key gets unless `vidgate keys create` says otherwise (unlimited / 0 = none).
    key_default_rate: str = "unlimited"
    key_default_concurrency: int = Field(0, ge=0)
    key_default_daily: int = Field(0, ge=0)

    # Encoding: pinned x264 threads keep output byte-identical across machines.
    encoder_threads: int = Field(2, ge=1, le=16)
    quality: Literal["fast", "balanced", "best"] = "balanced"

    # Sound (`bgm`, `audio`, `voice_id`); docs/audio.md.
    # Voice for speech when a request names none, or an id with no language or gender words.
    default_voice: str = DEFAULT_VOICE_ID
    # Refuse a voice_id that is not a catalogue id (400) instead of mapping it to the closest voice.
    strict_voices: bool = False
    # Speech that does not fit the video may be spoken up to this much faster; beyond, a 400.
    max_speech_speed: float = Field(1.5, ge=1.0, le=2.0)

    # The visible mark of `watermark: true`.
    watermark_text: str = Field("AI generated", max_length=80)
    watermark_position: Literal["bottom-right", "bottom-left", "top-right", "top-left"] = "bottom-right"
    # An image (PNG with transparency) drawn in place of the built-in glyph.
    watermark_image: Path | None = None
    watermark_opacity: float = Field(0.7, gt=0, le=1)

    # The `diffusers` engine (docs/engines.md). The model folder, downloaded beforehand; nothing is
    # fetched at run time.
    diffusers_model_path: Path | None = None
    # The model family: "auto" = read from the folder's model_index.json and component configs. An API
    # host without the folder names it here, so that submits are checked against the right limits.
    diffusers_family: Literal["auto", "wan-ti2v-5b", "wan-a14b", "ltx-2"] = "auto"
    # "cuda", "cuda:1", "cpu"... Empty = "cuda" when available, else "cpu".
    diffusers_device: str = ""
    # Render at this short side (rounded to the family's multiple) and resize to the contract's size;
    # 0 = the requested resolution. Smaller is faster and needs less memory.
    diffusers_generation_short_side: int = Field(0, ge=0, le=2160)
    # "quality": the family's full step count with classifier-free guidance; "fast": a distilled LoRA
    # (diffusers_fast_lora), few steps, guidance 1.
    diffusers_preset: Literal["quality", "fast"] = "quality"
    # A local LoRA file or folder (safetensors) loaded through peft for the fast preset.
    diffusers_fast_lora: Path | None = None
    # Denoising steps and guidance scale; 0 = the preset's default for the family.
    diffusers_steps: int = Field(0, ge=0, le=200)
    diffusers_guidance: float = Field(0.0, ge=0.0, le=20.0)
    # Negative prompt; unset = the family's recommended one.
    diffusers_negative_prompt: str | None = None
    # Speed and memory levers, all off by default (docs/engines.md has their measured effects).
    # Reuse transformer outputs between similar steps.
    diffusers_cache: Literal["off", "first_block", "taylorseer"] = "off"
    # torch.compile of the transformer's repeated blocks (the first task pays the compile).
    diffusers_compile: bool = False
    # A diffusers attention backend, e.g. "flash", "_native_cudnn", "sage"; empty = PyTorch's SDPA.
    diffusers_attention_backend: str = ""
    # Keep weights in CPU memory and move them to the GPU when used: "model" (whole models) or
    # "group" (groups of layers, less memory, slower). GPU only.
    diffusers_offload: Literal["off", "model", "group"] = "off"
    # Store the transformers' weights in float8 and compute in bf16: about half their memory.
    diffusers_fp8: bool = False
    # Decode the video in tiles: less peak memory at large sizes.
    diffusers_vae_tiling: bool = False

    @field_validator("off_peak_window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        parse_window(value)
        return value.strip()

    @field_validator("default_voice")
    @classmethod
    def _catalogue_voice(cls, value: str) -> str:
        if value not in VOICES_BY_ID:
            raise ValueError(f"must be a catalogue voice id (GET /v3/voices), e.g. {DEFAULT_VOICE_ID!r}")
        return value

    @model_validator(mode="after")
    def _one_store(self) -> Settings:
        if self.storage_url and self.storage_dir is not None:
            raise ValueError("set storage_dir (a folder) or storage_url (an S3 bucket), not both")
        if self.s3_access_key_id and not self.s3_secret_access_key.get_secret_value():
            raise ValueError("s3_access_key_id needs s3_secret_access_key")
        return self

    @model_validator(mode="after")
    def _watermark_has_content(self) -> Settings:
        if not self.watermark_text and self.watermark_image is None:
            raise ValueError("watermark_text may be empty only when watermark_image is set")
        return self

    @field_validator("key_default_rate")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        parse_rate(value)
        return value.strip()

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'vidgate.db'}"

    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "objects"

    def resolved_signing_secret(self) -> str:
        return self.signing_secret or self._kept_secret("signing-secret", lambda: secrets.token_hex(32))

    def resolved_webhook_secret(self) -> str:
        return self.webhook_secret or self._kept_secret("webhook-secret", new_webhook_secret)

    def _kept_secret(self, name: str, make: Callable[[], str]) -> str:
        """A secret generated once and kept in the data folder, so that every process sharing the
        folder uses the same one."""
        path = self.data_dir / name
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            _write_private(path, make())
        return path.read_text().strip()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


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
