"""The wire contract's request and response bodies, exactly as CONTRACT.md states them.

Strict types: `"5"` is not a duration and `1` is not a boolean. Unknown fields are ignored, for
clients written against a newer upstream. Schemas never import the database.
Outside `api/`: webhook deliveries (`vidgate.results`) and `vidgate generate` speak the contract too.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from vidgate.tasks.model import TaskParams

SUBMIT_PATH = "/v3/async/vidu-q2-pro-img2video"
MAX_PROMPT_CHARS = 2000
MAX_SEED = 2**32 - 1
MAX_VOICE_ID_CHARS = 256


# The OpenAPI document states what the server accepts, so that a client (or schemathesis) that keeps
# to it is not refused. Each `json_schema_extra` below only describes a rule the server enforces
# itself, in the contract's words and reasons (an image URL that is no URL is INVALID_IMAGE_URL,
# not a pattern mismatch); what no schema can say (a host's addresses, an image's content) stays out.
# What str.strip() trims, spelled out: `\s` differs between regex engines (ECMA's lacks \x1c-\x1f).
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# An http(s) URL as the URL check takes it before it looks at the host's addresses: no whitespace,
# control character or backslash, no user name, a port in 0..65535. (IPv6 literals, which the check
# also takes, are left out: a bracketed host parses only as a valid IPv6 address, too long a pattern.)
_UNSAFE = rf"{WHITESPACE}\x00-\x1f\x7f\\"
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_HTTP_URL = rf"[hH][tT][tT][pP][sS]?://[^{_UNSAFE}@/?#:\[\]]+(:{_PORT}?)?([/?#][^{_UNSAFE}]*)?"
HTTP_URL_PATTERN = f"^{_HTTP_URL}$"
IMAGE_REF_PATTERN = f"^({_HTTP_URL}|[dD][aA][tT][aA]:.*)$"
# 1..2000 characters once leading and trailing whitespace is trimmed.
PROMPT_PATTERN = (
    rf"^[{WHITESPACE}]*[^{WHITESPACE}]([\s\S]{{0,{MAX_PROMPT_CHARS - 2}}}[^{WHITESPACE}])?[{WHITESPACE}]*$"
)
# No control characters (Unicode category Cc).
VOICE_ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


class WebhookSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: StrictStr = Field(json_schema_extra={"minLength": 1, "pattern": HTTP_URL_PATTERN})


class SubmitExtra(BaseModel):
    model_config = ConfigDict(extra="ignore")
    webhook: WebhookSpec | None = None
    engine: StrictStr | None = Field(
        None,
        max_length=32,
        description="run the task on this engine (GET /v3/engines lists those this deployment runs)",
    )


# A 32x18 PNG: the documented example is a request that works ("Try it out", schemathesis' examples).
EXAMPLE_IMAGE = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAASCAIAAAC1qksFAAAAJElEQVR42mOM6jnBQEvAxEBjMGrBqA"
    "WjFoxaMGrBqAUMDAwMAPMtAdJz9egKAAAAAElFTkSuQmCC"
)


class SubmitRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"images": [EXAMPLE_IMAGE], "prompt": "slow zoom in", "duration": 1}]
        },
    )

    images: list[Annotated[StrictStr, Field(json_schema_extra={"pattern": IMAGE_REF_PATTERN})]] = Field(
        min_length=1, description="http(s) URLs or data:image/...;base64, URIs"
    )
    prompt: StrictStr = Field(
        min_length=1,
        description=f"1..{MAX_PROMPT_CHARS} characters after trimming",
        json_schema_extra={"pattern": PROMPT_PATTERN},
    )
    duration: StrictInt = Field(5, ge=1, le=10, description="seconds")
    resolution: Literal["540p", "720p", "1080p"] = "720p"
    movement_amplitude: Literal["auto", "small", "medium", "high", "large"] = "auto"
    seed: StrictInt | None = Field(None, ge=0, le=MAX_SEED)
    bgm: StrictBool = False
    audio: StrictBool = False
    voice_id: StrictStr | None = Field(
        None,
        json_schema_extra={"minLength": 1, "maxLength": MAX_VOICE_ID_CHARS, "pattern": VOICE_ID_PATTERN},
    )
    off_peak: StrictBool = False
    watermark: StrictBool = False
    extra: SubmitExtra | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_length(cls, value: str) -> str:
        value = value.strip()
        if not 1 <= len(value) <= MAX_PROMPT_CHARS:
            raise ValueError(f"must be 1..{MAX_PROMPT_CHARS} characters after trimming")
        return value

    @field_validator("movement_amplitude")
    @classmethod
    def _upstream_alias(cls, value: str) -> str:
        return "high" if value == "large" else value

    @field_validator("voice_id")
    @classmethod
    def _well_formed_voice(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value or len(value) > MAX_VOICE_ID_CHARS:
            raise ValueError(f"must be 1..{MAX_VOICE_ID_CHARS} characters")
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            raise ValueError("must not contain control characters")
        return value

    def to_params(self, images: list[str], extra: dict[str, Any] | None = None) -> TaskParams:
        """The task this request asks for, with `images` as stored or fetched: the API and
        `vidgate generate` both make tasks here. A seed left out is drawn now, and reported."""
        return TaskParams(
            images=images,
            prompt=self.prompt,
            duration=self.duration,
            resolution=self.resolution,
            movement_amplitude=self.movement_amplitude,
            seed=self.seed if self.seed is not None else secrets.randbelow(2**31),
            bgm=self.bgm,
            audio=self.audio,
            voice_id=self.voice_id,
            off_peak=self.off_peak,
            watermark=self.watermark,
            extra=extra or {},
        )


class SubmitResponse(BaseModel):
    task_id: str
    provider_request_id: str | None = None


class TaskInfo(BaseModel):
    task_id: str
    status: Literal[
        "TASK_STATUS_QUEUED", "TASK_STATUS_PROCESSING", "TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"
    ]
    reason: str
    task_type: str
    eta: int
    progress_percent: int


# Hosted-API clients parse these strings as integers: never "", "0" until the moment is known.
IntegerString = Annotated[str, Field(pattern=r"^[0-9]+$")]


class DebugInfo(BaseModel):
    request_info: str = ""
    submit_time_ms: IntegerString = "0"
    execute_time_ms: IntegerString = "0"
    complete_time_ms: IntegerString = "0"


class ResultExtra(BaseModel):
    model_config = ConfigDict(extra="allow")  # engine notes (camera move, voice used) ride along
    seed: IntegerString
    engine: str = Field(description="the engine that runs the task (vidgate extension)")
    debug_info: DebugInfo


class Video(BaseModel):
    video_url: str
    video_url_ttl: IntegerString
    video_type: Literal["mp4"] = "mp4"


class TaskResult(BaseModel):
    task: TaskInfo
    extra: ResultExtra
    images: list[Any] = []
    videos: list[Video] = []
    audios: list[Any] = []


class TaskList(BaseModel):
    tasks: list[TaskResult]
    next_cursor: str | None = None


class VoiceInfo(BaseModel):
    voice_id: str = Field(description="use as `voice_id` on submit")
    language: str = Field(description="BCP 47 tag, e.g. en-US")
    language_name: str
    gender: Literal["female", "male"]
    age: Literal["young", "adult", "senior"]
    description: str


class VoiceList(BaseModel):
    """`GET /v3/voices` (vidgate extension): the voices `audio: true` can speak with."""

    voices: list[VoiceInfo]
    default_voice_id: str
    strict: bool = Field(description="true: a voice_id outside this list is a 400, not mapped to the closest")


class EngineLimitsInfo(BaseModel):
    durations: list[int] = Field(description="the durations it can make, in seconds")
    resolutions: list[str]
    min_images: int
    max_images: int
    honours: list[str] = Field(description="parameters that change its output; others have no effect")
    renders_itself: list[str] = Field(description="of bgm, audio, watermark: what the engine makes itself")
    max_running: int | None = Field(description="tasks of it running at once across the deployment")
    notes: str


class EngineInfo(BaseModel):
    name: str
    description: str
    default: bool = Field(description="requests that name no engine run on it (unless their key is pinned)")
    limits: EngineLimitsInfo
    workers: int = Field(description="live workers running it now")
    served: bool = Field(description="false: no worker runs it now, and its tasks wait QUEUED")


class EngineList(BaseModel):
    """`GET /v3/engines` (vidgate extension): the engines this deployment runs."""

    engines: list[EngineInfo]
    default: str


class ErrorEnvelope(BaseModel):
    code: int
    reason: str
    message: str
    metadata: dict[str, Any] = {}


class UsageFigures(BaseModel):
    submitted: int = Field(description="tasks submitted (each once, however many attempts it took)")
    succeeded: int
    failed: int
    cancelled: int
    video_seconds: float = Field(description="seconds of video delivered (succeeded tasks' durations)")
    render_seconds: float = Field(description="seconds from each ended task's first claim to its end")


class UsageRow(UsageFigures):
    day: str | None = Field(None, description="UTC day, YYYY-MM-DD (when grouped by day)")
    key_id: str | None = Field(None, description='the API key\'s id, "" for none (when grouped by key)')
    engine: str | None = Field(None, description="when grouped by engine")


class UsageReport(BaseModel):
    """`GET /v3/usage` (vidgate extension): the caller's tenant's usage, from the usage ledger."""

    tenant_id: str
    since: str
    until: str
    group_by: list[str]
    rows: list[UsageRow]
    totals: UsageFigures
