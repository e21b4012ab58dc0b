"""The one small protocol every engine implements, and what an engine states about itself.

An engine turns a `RenderJob` into an MP4 at `job.output_path`. It validates loudly, is deterministic
for a seed, and never touches the database: progress, cancellation and the state it keeps across
attempts reach it through callbacks. Its `EngineLimits` are checked at submit, so a worker never
gets a task its engine cannot serve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from vidgate.errors import TaskFailure
from vidgate.tasks.model import TaskParams

if TYPE_CHECKING:  # the API process reads engines' limits and never needs PyAV or numpy for that
    import numpy as np

    from vidgate.media.encode import FrameFilter

Amplitude = Literal["auto", "small", "medium", "high"]

# Called with a fraction in [0, 1]; cheap, may be called every frame.
ProgressCallback = Callable[[float], None]
# Returns True when the task was cancelled; the engine then raises `RenderCancelled`.
CancelCheck = Callable[[], bool]

FPS = 24


class RenderCancelled(Exception):
    """Raised by an engine when `should_cancel()` turned true mid-render. `info` goes into the task's
    `extra` (e.g. that an upstream provider refused the cancel and may still finish, credits spent)."""

    def __init__(self, message: str = "render cancelled", info: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.info = dict(info or {})


# A render failed for a reason the user can act on (`reason` is UPPER_SNAKE): one family with the
# contract's errors, so the worker reports both alike.
RenderError = TaskFailure


class AttemptLost(Exception):
    """Raised by `EngineState.save` when this attempt no longer holds its task (its lease expired and
    another attempt took it over): the engine stops, and leaves what it started to that attempt."""


class EngineState(Protocol):
    """What an engine keeps across the attempts of one task, e.g. the upstream task id of a gateway
    engine, so that a retried attempt resumes the upstream task instead of creating a second one."""

    def saved(self) -> dict[str, Any]:
        """What earlier attempts (or this one) saved; {} for a task's first attempt."""
        ...

    def save(self, values: Mapping[str, Any], public: Mapping[str, Any] | None = None) -> None:
        """Merge `values` into the saved state, durably, before returning; `public` is merged into the
        task's `extra` at once (e.g. `provider_request_id`). Raises `AttemptLost` when this attempt
        lost the task; a database fault propagates as itself."""
        ...

    def pushed(self) -> dict[str, Any] | None:
        """The latest event pushed to the API for this task (an upstream provider's signed callback),
        or None: lets a polling engine learn of a change before its next poll."""
        ...


class NoState:
    """For renders outside a worker (`vidgate generate`, tests): nothing survives the call."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def saved(self) -> dict[str, Any]:
        return dict(self._values)

    def save(self, values: Mapping[str, Any], public: Mapping[str, Any] | None = None) -> None:
        self._values.update(values)

    def pushed(self) -> dict[str, Any] | None:
        return None


@dataclass(frozen=True)
class RenderJob:
    images: list[np.ndarray]  # RGB uint8 arrays, HxWx3, already validated and normalised
    prompt: str
    duration: int  # seconds, 1..10
    short_side: int  # 540, 720 or 1080
    movement_amplitude: Amplitude
    seed: int
    output_path: Path
    fps: int = FPS
    encoder_threads: int = 2  # pinned so that the same job gives byte-identical output on any machine
    quality: Literal["fast", "balanced", "best"] = "balanced"
    # The finished soundtrack, float32 (samples, 2) at 48 kHz and `duration` long, or None for a
    # silent video (no audio stream at all). Built before rendering, independently of the engine.
    audio: np.ndarray | None = None
    # Applied to every frame before encoding (the watermark), or None; takes RGB and YUV frames.
    frame_filter: FrameFilter | None = None
    # MP4 container tags (provenance: machine-generated, engine, seed).
    metadata: dict[str, str] = field(default_factory=dict)
    # The task's request as submitted, for engines that forward it (a gateway); None outside a task.
    params: TaskParams | None = None
    task_id: str = ""
    # URLs of the stored input images that an outside service can fetch (presigned), in order; empty
    # when the storage cannot presign (a local folder): an engine then sends the pixels themselves.
    image_urls: tuple[str, ...] = ()
    state: EngineState = field(default_factory=NoState)

    @property
    def frame_count(self) -> int:
        return self.fps * self.duration


@dataclass(frozen=True)
class RenderResult:
    path: Path
    width: int
    height: int
    frames: int
    fps: int
    info: dict[str, object] = field(default_factory=dict)  # engine notes for `extra` (e.g. camera move)


class Engine(Protocol):
    name: str

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult: ...


# `size(index, width, height, out_w, out_h)`: the size image `index` will be shrunk to, or None.
InputSizeFn = Callable[[int, int, int, int, int], "tuple[int, int] | None"]


@runtime_checkable
class ShrinksInputs(Protocol):
    """An engine that knows, before reading any image, how small it will use each: the worker then
    shrinks every image as it reads it, so that only one full-size photo is held at a time."""

    def input_sizes(self, params: TaskParams, image_count: int) -> InputSizeFn: ...


ALL_DURATIONS = tuple(range(1, 11))
ALL_RESOLUTIONS = ("540p", "720p", "1080p")
# The contract's optional parameters an engine may honour (or accept with no effect).
PARAMETERS = ("seed", "movement_amplitude", "bgm", "audio", "voice_id", "off_peak", "watermark")


@dataclass(frozen=True)
class EngineLimits:
    """What an engine can serve, checked at submit (`engines.check_request`) and listed by
    `GET /v3/engines`. `max_images` None: the deployment's VIDGATE_MAX_IMAGES."""

    durations: tuple[int, ...] = ALL_DURATIONS
    resolutions: tuple[str, ...] = ALL_RESOLUTIONS
    min_images: int = 1
    max_images: int | None = None
    # Parameters that change the output; the others are accepted and have no effect.
    honours: frozenset[str] = frozenset(PARAMETERS)
    # Of bgm, audio and watermark, what the engine makes itself (vidgate's shared soundtrack and
    # watermark are then not applied again).
    renders_itself: frozenset[str] = frozenset()
    # At most this many of its tasks run at once across the deployment (an upstream provider's
    # concurrency); surplus tasks wait in vidgate's queue. None: as many as there are workers.
    max_running: int | None = None
    notes: str = ""  # one line for people: what the limits come from


def output_size(image_width: int, image_height: int, short_side: int, multiple: int = 2) -> tuple[int, int]:
    """(width, height) with the short side fixed and the long side from the image's aspect ratio,
    rounded to the nearest multiple of `multiple` (2 for yuv420p; some models need 16)."""
    aspect = max(image_width, image_height) / min(image_width, image_height)
    long_px = max(multiple, round(short_side * aspect / multiple) * multiple)
    short_px = (short_side // multiple) * multiple
    return (long_px, short_px) if image_width >= image_height else (short_px, long_px)
