"""All of vidgate's configuration, in one typed place.

Precedence: `VIDGATE_*` environment variables > `.env` file > the defaults below. No other module
reads the environment. Each field carries its description; docs/configuration.md's tables are
generated from them (`make configuration-doc`; a test fails when they differ).
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.config import JsonDict
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vidgate.tasks.limits import parse_rate
from vidgate.tasks.offpeak import parse_window
from vidgate.tasks.retention import parse_retention
from vidgate.voices_catalogue import BY_ID as VOICES_BY_ID
from vidgate.voices_catalogue import DEFAULT_VOICE_ID

# The section of docs/configuration.md that lists a setting.
STORAGE: JsonDict = {"section": "storage"}
HTTP: JsonDict = {"section": "http"}
WORKERS: JsonDict = {"section": "workers"}
INPUTS: JsonDict = {"section": "inputs"}
KEYS: JsonDict = {"section": "keys"}
ENCODING: JsonDict = {"section": "encoding"}
SOUND: JsonDict = {"section": "sound"}
VIDU: JsonDict = {"section": "vidu"}
DIFFUSERS: JsonDict = {"section": "diffusers"}
SECTIONS = (STORAGE, HTTP, WORKERS, INPUTS, KEYS, ENCODING, SOUND, VIDU, DIFFUSERS)


# What a browser sends as `Origin`: scheme and host, a port perhaps, never a path or a trailing slash.
ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _comma_separated(value: object) -> object:
    """`motion,vidu` (an environment variable) as a list; a list stays as it is."""
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDGATE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("var"),
        description=(
            "Folder for the embedded defaults: the SQLite database, stored objects, the signing secret, "
            "the dev key (`dev-api-key`), the example request, and workers' scratch files (`work/`). "
            "Relative to the working directory."
        ),
        json_schema_extra=STORAGE,
    )
    database_url: str = Field(
        "",
        description=(
            "SQLAlchemy URL of the task store. Empty = SQLite file `<data_dir>/vidgate.db`. PostgreSQL: "
            "`postgresql+psycopg://user:password@host:5432/db` (needs `pip install -e '.[postgres]'`)."
        ),
        json_schema_extra=STORAGE,
    )
    storage_dir: Path | None = Field(
        None,
        description=(
            "Folder where inputs (`inputs/`, by content hash) and videos (`videos/`) are kept. Unset = "
            "`<data_dir>/objects`. Every API and worker process must see the same folder."
        ),
        json_schema_extra=STORAGE,
    )
    storage_url: str = Field(
        "",
        pattern=r"^(s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^?#]*)?)?$",
        description=(
            "An S3 bucket instead of a folder: `s3://bucket` or `s3://bucket/prefix` (the prefix keeps "
            "several installs apart in one bucket). Needs `pip install -e '.[s3]'` (boto3). Set it or "
            "`VIDGATE_STORAGE_DIR`, not both. The bucket must exist; a process that cannot reach it stops "
            "at start and says why. Video links stay vidgate's own signed URLs, which redirect to a "
            "presigned URL of the bucket, so clients must be able to reach it (see "
            "`VIDGATE_S3_PUBLIC_ENDPOINT_URL`)."
        ),
        json_schema_extra=STORAGE,
    )
    s3_endpoint_url: str = Field(
        "",
        description=(
            "URL of an S3 API other than AWS: MinIO, Ceph, Cloudflare R2, ... (e.g. `http://minio:9000`); "
            "it is then reached by path, with no bucket subdomains. Empty = AWS S3."
        ),
        json_schema_extra=STORAGE,
    )
    s3_public_endpoint_url: str = Field(
        "",
        description=(
            "The endpoint named in the presigned download URLs, when clients reach the bucket by another "
            "address than vidgate does (e.g. `https://files.example.com` in front of an internal MinIO). "
            "Empty = `VIDGATE_S3_ENDPOINT_URL`."
        ),
        json_schema_extra=STORAGE,
    )
    s3_region: str = Field(
        "",
        description=(
            "The bucket's region, e.g. `eu-west-1`. Empty = boto3's default (its `AWS_DEFAULT_REGION`, "
            "`~/.aws/config`)."
        ),
        json_schema_extra=STORAGE,
    )
    s3_access_key_id: str = Field(
        "",
        description=(
            "Access key for the bucket. Empty = boto3's own credential chain: its `AWS_*` environment "
            "variables, `~/.aws/credentials`, an instance or pod role (the better choice on AWS)."
        ),
        json_schema_extra=STORAGE,
    )
    s3_secret_access_key: SecretStr = Field(
        SecretStr(""),
        description=("The secret of `VIDGATE_S3_ACCESS_KEY_ID` (required with it). Never printed or logged."),
        json_schema_extra=STORAGE,
    )

    host: str = Field(
        "127.0.0.1",
        description=(
            "Interface `vidgate serve` listens on (`--host` overrides). Use `0.0.0.0` to accept "
            "connections from other machines."
        ),
        json_schema_extra=HTTP,
    )
    port: int = Field(
        8000,
        ge=1,
        le=65535,
        description=("TCP port of `vidgate serve` (1..65535; `--port` overrides)."),
        json_schema_extra=HTTP,
    )
    api_workers: int = Field(
        1,
        ge=1,
        le=64,
        description=(
            "API processes `vidgate serve` runs on its one port (1..64; `--api-workers` overrides): more "
            "than one spreads requests over CPU cores. The embedded workers and the dev key are set up "
            "once, not per API process."
        ),
        json_schema_extra=HTTP,
    )
    cors_origins: str = Field(
        "",
        description=(
            "Origins of browser front-ends allowed to call the API cross-origin (CORS): a comma-separated "
            "list of `scheme://host[:port]` (`https://app.example.com,http://localhost:3000`), or `*` for "
            "any origin. Empty = none: a preflight gets `405 METHOD_NOT_ALLOWED` and no CORS headers. A "
            "preflight from another origin, or for another method or header, gets `400 "
            "CORS_REQUEST_REFUSED`. Requests carry the key in `Authorization`, never cookies, so "
            "credentials are not allowed."
        ),
        json_schema_extra=HTTP,
    )
    public_base_url: str = Field(
        "",
        description=(
            "Base of the `video_url`s handed to clients, e.g. `https://video.example.com`. Empty = the "
            "base URL the request came in on. Set it behind a proxy or load balancer."
        ),
        json_schema_extra=HTTP,
    )
    signing_secret: str = Field(
        "",
        description=(
            "Secret for signing video URLs (HMAC-SHA256). Empty = generated once and kept in "
            "`<data_dir>/signing-secret` (owner-only), so processes sharing the data folder sign alike. "
            "Set it, identically, on API processes that do not share the data folder. Changing it "
            "invalidates links already handed out."
        ),
        json_schema_extra=HTTP,
    )
    video_url_ttl: int = Field(
        3600,
        ge=60,
        le=7 * 24 * 3600,
        description=("Lifetime of a signed video URL in seconds (60..604800); reported as `video_url_ttl`."),
        json_schema_extra=HTTP,
    )
    webhook_secret: str = Field(
        "",
        pattern=r"^(whsec_[A-Za-z0-9+/]+={0,2})?$",
        description=(
            "Standard Webhooks secret (`whsec_<base64>`) that signs webhook deliveries. Empty = generated "
            "once and kept in `<data_dir>/webhook-secret` (owner-only); `vidgate webhook-secret` prints "
            "the one in use. Workers sign, so every worker must see the same one."
        ),
        json_schema_extra=HTTP,
    )

    workers: int = Field(
        1,
        ge=0,
        le=64,
        description=(
            "Embedded worker processes started by `vidgate serve` (0..64; 0 = API only; `--workers` "
            "overrides). `vidgate worker` always runs one."
        ),
        json_schema_extra=WORKERS,
    )
    engine: str = Field(
        "motion",
        description=(
            "The engine a task runs on when neither the request (`extra.engine`) nor its key (`vidgate "
            "keys create --engine`) names one. One of `VIDGATE_ENGINES`. See [engines.md](engines.md)."
        ),
        json_schema_extra=WORKERS,
    )
    engines: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "The engines this deployment enables, comma-separated: `motion` (CPU camera moves, no model), "
            "`vidu` (a gateway to the official Vidu API), `diffusers` (open models on your GPUs). A "
            "request may ask only for one of these. Empty = `VIDGATE_ENGINE` alone."
        ),
        json_schema_extra=WORKERS,
    )
    worker_engines: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "The engines the workers of this process run, comma-separated (`vidgate worker --engines` "
            "overrides; the embedded workers of `vidgate serve` use it too). Each worker claims only "
            "tasks of its engines and loads them once, at start. Empty = every enabled engine."
        ),
        json_schema_extra=WORKERS,
    )
    lease_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "How long a worker holds a claimed task (> 0). A heartbeat renews it every third of it; a "
            "worker silent for longer loses the task to another worker. A running task notices a cancel "
            "at its next heartbeat."
        ),
        json_schema_extra=WORKERS,
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description=(
            "Attempts per task (1..20), counting attempts lost to a dead worker and retries after "
            "internal faults; then the task fails (`MAX_ATTEMPTS_EXCEEDED` or `RENDER_FAILED`). Recorded "
            "on each task at submit."
        ),
        json_schema_extra=WORKERS,
    )
    poll_interval: float = Field(
        0.05,
        gt=0,
        description=(
            "SQLite: seconds an idle worker waits before looking for work again (> 0). PostgreSQL wakes "
            "workers by `NOTIFY` instead."
        ),
        json_schema_extra=WORKERS,
    )
    sweep_interval: float = Field(
        5.0,
        gt=0,
        description=(
            "Seconds between sweeps (> 0): each worker fails tasks whose last allowed attempt lost its "
            "lease, and cancelled tasks whose worker died. On PostgreSQL it is also the longest an idle "
            "worker sleeps in `LISTEN` before looking for expired leases (and so the longest an idle "
            "worker takes to stop on SIGTERM)."
        ),
        json_schema_extra=WORKERS,
    )
    off_peak_window: str = Field(
        "",
        description=(
            "Daily window, in the worker's local time, in which off-peak tasks are served first come, "
            "first served with normal ones, e.g. `22:00-06:00` (may span midnight). Outside it, an "
            "off-peak task runs only when no normal task is waiting."
        ),
        json_schema_extra=WORKERS,
    )
    off_peak_deadline_hours: float = Field(
        48.0,
        gt=0,
        description=(
            "An off-peak task not started (or abandoned by a dead worker) this many hours after submit "
            "fails with reason `OFF_PEAK_EXPIRED` (> 0). A render already running at the deadline is let "
            "finish."
        ),
        json_schema_extra=WORKERS,
    )

    # Disks that do not fill up: the sweeper deletes what nobody used for this long (docs/operations.md).
    retention: str = Field(
        "7d",
        description=(
            "How long videos and stored input images are kept: `7d`, `36h`, `30m`, or seconds; `0` keeps "
            "them forever. A video is deleted this long after its task ended (the task stays, answering "
            "`videos: []` and `extra.expired: true`; its link answers `410 FILE_EXPIRED`), an input this "
            "long after the last task that used it was submitted. Workers' sweeps delete them; "
            "`vidgate gc` runs a pass by hand."
        ),
        json_schema_extra=WORKERS,
    )

    max_request_bytes: int = Field(
        60 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest declared request body (≥ 1024); above it, `413 REQUEST_BODY_TOO_LARGE`. Base64 makes "
            "a data URI 4/3 of the image's size, so this also bounds data-URI images (to about 45 MiB by "
            "default)."
        ),
        json_schema_extra=HTTP,
    )
    max_images: int = Field(
        8,
        ge=1,
        le=64,
        description=("Most images per task (1..64); the limit is named in the 400."),
        json_schema_extra=INPUTS,
    )
    max_image_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest image file, decoded from a data URI or downloaded (≥ 1024); above it, "
            "`IMAGE_FILE_EXCEEDS_MAX_SIZE`."
        ),
        json_schema_extra=INPUTS,
    )
    max_image_pixels: int = Field(
        40_000_000,
        ge=1,
        description=(
            "Most pixels (width × height) per image (≥ 1); above it, `IMAGE_EXCEEDS_MAX_RESOLUTION`."
        ),
        json_schema_extra=INPUTS,
    )
    fetch_timeout: float = Field(
        15.0,
        gt=0,
        description=(
            "Time in seconds one image URL may take to download, redirects included (> 0); connecting to "
            "a host may take at most 5 s of it. A server that sends slowly runs out this budget however "
            "often it sends a byte."
        ),
        json_schema_extra=INPUTS,
    )
    allow_private_urls: bool = Field(
        False,
        description=(
            "Allow image URLs that resolve to loopback, private or other non-public addresses. For local "
            "use and tests only: it lets any API user make the server fetch from your internal network. "
            "Logged as a warning when each API and worker process starts. See [security.md](security.md)."
        ),
        json_schema_extra=INPUTS,
    )

    key_default_rate: str = Field(
        "unlimited",
        description=(
            "Submits per period as a token bucket that holds that many tokens and refills evenly: `N/s`, "
            "`N/min`, `N/hour`, `N/day`, or `unlimited`. `60/min` allows a burst of 60, then one a "
            "second."
        ),
        json_schema_extra=KEYS,
    )
    key_default_concurrency: int = Field(
        0,
        ge=0,
        description=("Tasks of the key that may be queued or processing at once (≥ 0; 0 = unlimited)."),
        json_schema_extra=KEYS,
    )
    key_default_daily: int = Field(
        0,
        ge=0,
        description=(
            "Tasks the key may submit per UTC calendar day (≥ 0; 0 = unlimited). The 429 says when the "
            "day resets."
        ),
        json_schema_extra=KEYS,
    )

    encoder_threads: int = Field(
        2,
        ge=1,
        le=16,
        description=(
            "x264 threads per render (1..16). Pinned, because the bitstream depends on it: the same value "
            "gives byte-identical output on any machine."
        ),
        json_schema_extra=ENCODING,
    )
    quality: Literal["fast", "balanced", "best"] = Field(
        "balanced",
        description=(
            "x264 preset and CRF: `fast` (veryfast, CRF 23), `balanced` (faster, CRF 20), `best` (medium, "
            "CRF 18)."
        ),
        json_schema_extra=ENCODING,
    )

    speech: bool = Field(
        True,
        description=(
            "Speak quoted text (and `says:` lines) when `audio` is true, with eSpeak NG "
            "(GPL-3.0-or-later, see [licences.md](licences.md)). `false`: eSpeak NG is never loaded (it "
            "may even be uninstalled), and a submit with `audio: true` whose prompt has text to speak is "
            "a 400 `INVALID_REQUEST_BODY` (`metadata.field` = `prompt`, `metadata.speech` = `off`); "
            "ambience (`audio` without quotes) and music (`bgm`) still play. Set it alike on API and "
            "worker processes."
        ),
        json_schema_extra=SOUND,
    )
    default_voice: str = Field(
        DEFAULT_VOICE_ID,
        description=(
            "Voice for speech when a request names none, or names an id with no language or gender words "
            "(e.g. a cloned voice). Must be a catalogue id (`GET /v3/voices`); anything else stops the "
            "process at start. Text in a script that voice cannot read (Chinese, Japanese, Korean, "
            "Cyrillic, Arabic, Devanagari) gets that language's first catalogue voice instead."
        ),
        json_schema_extra=SOUND,
    )
    strict_voices: bool = Field(
        False,
        description=(
            "`true`: a `voice_id` that is not a catalogue id is a 400 `INVALID_REQUEST_BODY` naming "
            "`/v3/voices` (only when `audio` is true; without audio `voice_id` has no effect). `false`: "
            "it is mapped to the closest catalogue voice, and the result's `extra.voice_id_used` says "
            "which."
        ),
        json_schema_extra=SOUND,
    )
    max_speech_speed: float = Field(
        1.5,
        ge=1.0,
        le=2.0,
        description=(
            "Spoken lines that do not fit the video may be spoken up to this many times faster than their "
            "voice's normal rate (1.0..2.0; 1.0 = never faster). Beyond it, submit answers 400 "
            "`INVALID_REQUEST_BODY` (`metadata.field` = `prompt`)."
        ),
        json_schema_extra=SOUND,
    )
    # Each process holds numpy, scipy and eSpeak (about 60 MB); they start on the first submit with audio.
    speech_check_processes: int = Field(
        2,
        ge=1,
        le=64,
        description=(
            "API processes only: how many processes beside each API process check at submit that a "
            "request's speech fits its video (eSpeak NG speaks one line at a time per process). More "
            "checks than this at once wait their turn. They start on the first submit with `audio`, and a "
            "crash of one (eSpeak ends its process on corrupt data) answers that submit with a 500 and "
            "starts fresh ones; the API process itself is unaffected."
        ),
        json_schema_extra=SOUND,
    )

    watermark_text: str = Field(
        "AI generated",
        max_length=80,
        description=(
            "Text of the visible watermark (at most 80 characters). May be empty when "
            "`VIDGATE_WATERMARK_IMAGE` is set."
        ),
        json_schema_extra=SOUND,
    )
    watermark_position: Literal["bottom-right", "bottom-left", "top-right", "top-left"] = Field(
        "bottom-right",
        description=("Corner of the watermark: `bottom-right`, `bottom-left`, `top-right`, `top-left`."),
        json_schema_extra=SOUND,
    )
    watermark_image: Path | None = Field(
        None,
        description=(
            "An image (PNG with transparency works best) drawn instead of the built-in sparkle glyph, "
            "scaled to the text's height. Workers read it; a missing or unreadable file fails watermarked "
            "tasks (`RENDER_FAILED`, logged)."
        ),
        json_schema_extra=SOUND,
    )
    watermark_opacity: float = Field(
        0.7,
        gt=0,
        le=1,
        description=("Opacity of the watermark (> 0, ≤ 1)."),
        json_schema_extra=SOUND,
    )

    vidu_api_key: SecretStr = Field(
        SecretStr(""),
        description=(
            "The Vidu account's API key, sent as `Authorization: Token <key>` and used to check the "
            "provider's signed callbacks. Required when the `vidu` engine is enabled: without it, "
            "start-up stops with one line naming this variable. Never printed, logged or reported in a "
            "task (a provider message that echoes it is masked)."
        ),
        json_schema_extra=VIDU,
    )
    vidu_base_url: str = Field(
        "https://api.vidu.com",
        pattern=r"^https?://[^\s/?#@]+(/[^\s?#]*)?$",
        description=(
            "Base URL of the Vidu API (`http(s)://host[:port][/path]`): another region's endpoint, or a "
            "test fake."
        ),
        json_schema_extra=VIDU,
    )
    vidu_model: str = Field(
        "viduq2-pro",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description=(
            "The provider's model for every vidu task. Its durations and resolutions are what submit "
            "accepts (see engines.md); an unlisted model gets the contract's whole range."
        ),
        json_schema_extra=VIDU,
    )
    vidu_concurrency: int = Field(
        5,
        ge=1,
        le=1000,
        description=(
            "Vidu tasks running at the provider at once across all workers (1..1000); the rest wait in "
            "vidgate's queue. The provider itself runs 5 of an organisation's tasks at once and queues "
            "the rest."
        ),
        json_schema_extra=VIDU,
    )
    vidu_poll_interval: float = Field(
        2.0,
        gt=0,
        description=(
            "Seconds before the first poll of an upstream task's state (> 0), and again after each change "
            "of state. A signed callback (with `VIDGATE_PUBLIC_BASE_URL` set) makes the next poll come at "
            "once."
        ),
        json_schema_extra=VIDU,
    )
    vidu_poll_backoff: float = Field(
        1.5,
        ge=1.0,
        le=10.0,
        description=(
            "Growth of the poll interval after each poll that shows no change (1.0..10.0; 1.0 = fixed)."
        ),
        json_schema_extra=VIDU,
    )
    vidu_poll_max_interval: float = Field(
        15.0,
        gt=0,
        description=("Longest interval between two polls, in seconds (> 0)."),
        json_schema_extra=VIDU,
    )
    vidu_request_timeout: float = Field(
        30.0,
        gt=0,
        description=(
            "Seconds one request to the provider may take (> 0); connecting may take at most 5 s of it."
        ),
        json_schema_extra=VIDU,
    )
    vidu_retry_budget: float = Field(
        60.0,
        ge=0,
        description=(
            "Seconds one request may spend on retries after 429, 5xx, timeouts and refused connections (≥ "
            "0; 0 = no retry). A `Retry-After` beyond what is left ends the retries at once. A create "
            "whose answer never came is never retried (see engines.md)."
        ),
        json_schema_extra=VIDU,
    )
    vidu_retry_delay: float = Field(
        1.0,
        gt=0,
        description=(
            "First delay between retries, in seconds, doubling after each (> 0); the provider's "
            "`Retry-After` takes its place when sent."
        ),
        json_schema_extra=VIDU,
    )
    vidu_max_wait: float = Field(
        3600.0,
        gt=0,
        description=(
            "Longest wait, in seconds, for the provider to finish a task (> 0); then it is cancelled "
            "upstream and fails `UPSTREAM_TIMEOUT`. Off-peak tasks wait up to "
            "`VIDGATE_OFF_PEAK_DEADLINE_HOURS` if that is longer."
        ),
        json_schema_extra=VIDU,
    )
    vidu_expected_render_seconds: float = Field(
        60.0,
        gt=0,
        description=(
            "The provider's usual rendering time (> 0), for progress and ETA while it renders: half of "
            "the rendering share of the bar is reached after this long."
        ),
        json_schema_extra=VIDU,
    )
    vidu_max_video_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024,
        description=(
            "Largest video copied from the provider (≥ 1024); above it the task fails "
            "`UPSTREAM_VIDEO_TOO_LARGE`."
        ),
        json_schema_extra=VIDU,
    )
    vidu_download_timeout: float = Field(
        120.0,
        gt=0,
        description=("Seconds the copy of one video may take in all, redirects included (> 0)."),
        json_schema_extra=VIDU,
    )
    vidu_allow_provider_host: bool = Field(
        False,
        description=(
            "Copy videos from the host of `VIDGATE_VIDU_BASE_URL` even when it resolves to a loopback or "
            "private address (a provider inside your network, or a test fake). Videos on any other host "
            "follow the image fetcher's address rules (public addresses only, unless "
            "`VIDGATE_ALLOW_PRIVATE_URLS`)."
        ),
        json_schema_extra=VIDU,
    )

    diffusers_model_path: Path | None = Field(
        None,
        description=(
            "The model folder, downloaded beforehand (e.g. `/models/Wan2.2-TI2V-5B-Diffusers`). Loaded "
            "with `local_files_only`: nothing is fetched at run time. A missing or incomplete folder "
            "stops the worker at start, naming what is missing."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_family: Literal["auto", "wan-ti2v-5b", "wan-a14b", "ltx-2"] = Field(
        "auto",
        description=(
            "`auto` (read from the folder's `model_index.json` and component configs), `wan-ti2v-5b`, "
            "`wan-a14b` or `ltx-2`. Set it on API hosts that do not have the folder, so that submits are "
            "checked against the family's limits."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_device: str = Field(
        "",
        description=(
            "The torch device of this worker: `cuda`, `cuda:1`, `cpu`. Empty = `cuda` when available, "
            "else `cpu`. One GPU per worker."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_generation_short_side: int = Field(
        0,
        ge=0,
        le=2160,
        description=(
            "Render at this short side (rounded to the family's multiple) and resize to the contract's "
            "size. 0 = the requested resolution. Lower = faster, less memory, softer."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_preset: Literal["quality", "fast"] = Field(
        "quality",
        description=(
            "`quality`: the family's full steps with guidance. `fast`: a distilled LoRA "
            "(`VIDGATE_DIFFUSERS_FAST_LORA`, required), 4 steps, guidance 1."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_fast_lora: Path | None = Field(
        None,
        description=(
            "A local LoRA file (`.safetensors`) or folder for the fast preset, loaded through peft and "
            "fused into the weights at start. For Wan 2.2 A14B, a folder with a "
            "`*high_noise*.safetensors` and a `*low_noise*.safetensors` file: one per expert."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_steps: int = Field(
        0,
        ge=0,
        le=200,
        description=("Denoising steps (0..200). 0 = the preset's default for the family."),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_guidance: float = Field(
        0.0,
        ge=0.0,
        le=20.0,
        description=(
            "Classifier-free guidance scale (0..20). 0 = the preset's default for the family; 1 = no "
            "guidance (half the work per step)."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_negative_prompt: str | None = Field(
        None,
        description=(
            "Negative prompt. Unset = the family's recommended one (Wan's from its model card; LTX-2's "
            "from its docs)."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_cache: Literal["off", "first_block", "taylorseer"] = Field(
        "off",
        description=(
            "Reuse transformer outputs between similar steps: `first_block` (First Block Cache, threshold "
            "0.05) or `taylorseer` (TaylorSeer). Faster; may lose detail."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_compile: bool = Field(
        False,
        description=(
            "`torch.compile` of the transformer's repeated blocks (regional compile). The worker's first "
            "task pays the compile."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_attention_backend: str = Field(
        "",
        description=(
            "A diffusers attention backend (`flash`, `_native_cudnn`, `sage`, `native`...). Empty = "
            "PyTorch's scaled-dot-product attention."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_offload: Literal["off", "model", "group"] = Field(
        "off",
        description=(
            "`model`: whole models move to the GPU when used; `group`: groups of layers, streamed (less "
            "memory, slower). For cards smaller than the model. Skipped on the CPU."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_fp8: bool = Field(
        False,
        description=(
            "Store the transformers' weights in float8 (e4m3) and compute in bf16: about half their memory."
        ),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_vae_tiling: bool = Field(
        False,
        description=("Decode the video in tiles: lower peak memory at large sizes, slightly slower."),
        json_schema_extra=DIFFUSERS,
    )
    diffusers_seconds_per_video_second: float = Field(
        30.0,
        gt=0,
        description=(
            "The render time of one second of video on this deployment's GPUs, in seconds (> 0), for "
            "the queue's ETAs of diffusers tasks until they run (a running task's ETA comes from its "
            "measured steps). About 30 for Wan 2.2 TI2V-5B at 720p with the quality preset on one "
            "H100; lower it for the fast preset."
        ),
        json_schema_extra=DIFFUSERS,
    )

    @field_validator("engines", "worker_engines", mode="before")
    @classmethod
    def _engine_list(cls, value: object) -> object:
        return _comma_separated(value)

    @model_validator(mode="after")
    def _engines_enabled(self) -> Settings:
        if self.engines and "engine" not in self.model_fields_set:
            self.engine = self.engines[0]  # VIDGATE_ENGINES=vidu alone: its one engine is the default
        enabled = self.enabled_engines()
        if self.engine not in enabled:
            raise ValueError(
                f"VIDGATE_ENGINE {self.engine!r} is not among VIDGATE_ENGINES ({', '.join(enabled)})"
            )
        if strays := [name for name in self.worker_engines if name not in enabled]:
            raise ValueError(f"worker_engines {', '.join(strays)} not among engines ({', '.join(enabled)})")
        return self

    def enabled_engines(self) -> list[str]:
        return self.engines or [self.engine]

    def engines_to_run(self) -> list[str]:
        """The engines this process's workers run."""
        return self.worker_engines or self.enabled_engines()

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: str) -> str:
        origins = [origin.strip() for origin in value.split(",") if origin.strip()]
        for origin in origins:
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port], no path")
        if "*" in origins and len(origins) > 1:
            raise ValueError("'*' allows every origin: give it alone, or list origins")
        return ",".join(origins)

    def cors_origin_list(self) -> list[str]:
        return self.cors_origins.split(",") if self.cors_origins else []

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

    @field_validator("retention")
    @classmethod
    def _valid_retention(cls, value: str) -> str:
        parse_retention(value)
        return value.strip()

    def retention_seconds(self) -> float | None:
        """None: keep forever."""
        return parse_retention(self.retention)

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
