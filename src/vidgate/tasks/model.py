"""The task as vidgate keeps it: status enum, the record, and the request it carries."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from vidgate.tasks.limits import KeyLimits


class TaskStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    SUCCEED = "SUCCEED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def wire(self) -> str:
        """The contract's spelling, e.g. TASK_STATUS_QUEUED."""
        return f"TASK_STATUS_{self.value}"


TERMINAL_STATUSES = frozenset({TaskStatus.SUCCEED, TaskStatus.FAILED})
TASK_TYPE = "VIDU_Q2_PRO_IMG2VIDEO"


@dataclass(frozen=True)
class TaskParams:
    """The validated submit request, as the worker and engines need it (no wire concerns)."""

    images: list[str]  # references as submitted: URLs, or `sha256:<hex>` for inputs already stored
    prompt: str
    duration: int
    resolution: str
    movement_amplitude: str
    seed: int
    bgm: bool = False
    audio: bool = False
    voice_id: str | None = None
    off_peak: bool = False
    watermark: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def short_side(self) -> int:
        return int(self.resolution.removesuffix("p"))

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TaskParams:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Task:
    id: str
    tenant_id: str
    status: TaskStatus
    reason: str
    params: TaskParams
    progress: int  # 0..100
    eta: int  # seconds
    attempt: int
    max_attempts: int
    lease_owner: str | None
    lease_until: float | None  # epoch seconds
    output_key: str | None
    result_info: dict[str, Any]
    cancel_requested: bool
    created_ms: int
    started_ms: int | None
    completed_ms: int | None
    engine: str = "motion"
    engine_state: dict[str, Any] = field(default_factory=dict)  # kept by its engine across attempts
    estimate_ms: int = 0  # its engine's guess of the render time, for the queue's ETAs
    expired_ms: int | None = None  # when retention deleted its video (VIDGATE_RETENTION)


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    prefix: str  # the first characters of the key, shown in listings to tell keys apart
    created_ms: int
    revoked_ms: int | None
    limits: KeyLimits = field(default_factory=KeyLimits)
    engine: str | None = None  # pinned: the key's tasks run on this engine
