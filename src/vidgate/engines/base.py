"""The one small protocol every engine implements.

An engine turns a `RenderJob` into an MP4 at `job.output_path`. It validates loudly, is deterministic
for a seed, and never touches the database: progress and cancellation reach it through callbacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from vidgate.media.encode import FrameFilter

Amplitude = Literal["auto", "small", "medium", "high"]

# Called with a fraction in [0, 1]; cheap, may be called every frame.
ProgressCallback = Callable[[float], None]
# Returns True when the task was cancelled; the engine then raises `RenderCancelled`.
CancelCheck = Callable[[], bool]

FPS = 24


class RenderCancelled(Exception):
    """Raised by an engine when `should_cancel()` turned true mid-render."""


class RenderError(Exception):
    """A render failed for a reason the user can act on (`reason` is UPPER_SNAKE)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


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


def output_size(image_width: int, image_height: int, short_side: int, multiple: int = 2) -> tuple[int, int]:
    """(width, height) with the short side fixed and the long side from the image's aspect ratio,
    rounded to the nearest multiple of `multiple` (2 for yuv420p; some models need 16)."""
    aspect = max(image_width, image_height) / min(image_width, image_height)
    long_px = max(multiple, round(short_side * aspect / multiple) * multiple)
    short_px = (short_side // multiple) * multiple
    return (long_px, short_px) if image_width >= image_height else (short_px, long_px)
