"""What every diffusers family shares: the plan of a render (sizes, frame counts, steps, prompts),
progress and cancel from the denoising loop, out-of-memory handling, retiming, and encoding.

Frame counts: for every duration d in 1..10, 24d + 1 is both 4k + 1 (Wan) and 8k + 1 (LTX-2), so
24 fps families generate 24d + 1 frames and drop the last. 16 fps families generate 16d + 1 frames
and are retimed to exactly 24d (`retime`: each output frame at time i/24 s blends the two source
frames around it, linearly by distance; no motion compensation).

Sizes: the model renders at its multiple nearest the requested short side (or the operator's
generation short side) and the first image's aspect; the frames are then resized and centre-cropped
to the contract's size exactly (`engines.base.output_size`).
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from vidgate.engines.base import (
    FPS,
    CancelCheck,
    ProgressCallback,
    RenderCancelled,
    RenderError,
    RenderJob,
    RenderResult,
    output_size,
)
from vidgate.engines.diffusers.family import Family
from vidgate.errors import GPU_OUT_OF_MEMORY
from vidgate.media.encode import encode_frames
from vidgate.settings import Settings

ENGINE_NAME = "diffusers"
# Progress at the end of denoising and after the VAE decode; encoding takes the rest.
DENOISED_AT = 0.85
DECODED_AT = 0.92
FAST_STEPS = 4  # what distilled (e.g. Lightning / CausVid) LoRAs are trained for
FAST_GUIDANCE = 1.0  # no classifier-free guidance: one transformer pass per step

# movement_amplitude: no pipeline has such a knob, so it becomes words in the prompt (appended) and
# in the negative prompt (prepended); `auto` changes nothing.
MOTION_PROMPTS: dict[str, tuple[str, str]] = {
    "auto": ("", ""),
    "small": (" Subtle, gentle movement; the camera stays almost still.", "fast motion, shaky camera, "),
    "medium": (" Natural, moderate movement.", ""),
    "high": (
        " Dynamic, energetic, large movement; the camera moves freely.",
        "static, still image, frozen, slow motion, ",
    ),
}


@dataclass(frozen=True)
class Plan:
    width: int  # the contract's size
    height: int
    gen_width: int  # what the model renders
    gen_height: int
    frames: int  # 24 x duration
    generated_frames: int  # family fps x duration + 1
    steps: int
    guidance: float
    prompt: str
    negative_prompt: str

    def describe(self) -> str:
        return f"{self.gen_width}x{self.gen_height}, {self.generated_frames} frames"


def plan_render(job: RenderJob, family: Family, settings: Settings) -> Plan:
    if not job.images:
        raise ValueError("at least one image is required")
    if job.fps != FPS:
        raise ValueError(f"the diffusers engine renders at {FPS} fps, got {job.fps}")
    first_h, first_w = job.images[0].shape[:2]
    width, height = output_size(first_w, first_h, job.short_side)
    short = settings.diffusers_generation_short_side or job.short_side
    gen_width, gen_height = generation_size(first_w, first_h, short, family.multiple)
    fast = settings.diffusers_preset == "fast"
    extra_prompt, extra_negative = MOTION_PROMPTS[job.movement_amplitude]
    negative = (
        family.negative_prompt
        if settings.diffusers_negative_prompt is None
        else settings.diffusers_negative_prompt
    )
    return Plan(
        width=width,
        height=height,
        gen_width=gen_width,
        gen_height=gen_height,
        frames=job.frame_count,
        generated_frames=family.fps * job.duration + 1,
        steps=settings.diffusers_steps or (FAST_STEPS if fast else family.steps),
        guidance=settings.diffusers_guidance or (FAST_GUIDANCE if fast else family.guidance),
        prompt=job.prompt + extra_prompt,
        negative_prompt=extra_negative + negative,
    )


def nearest_multiple(value: float, multiple: int) -> int:
    """The multiple of `multiple` nearest `value` (the smaller one on a tie), at least `multiple`."""
    return max(multiple, multiple * math.ceil(value / multiple - 0.5))


def generation_size(image_width: int, image_height: int, short_side: int, multiple: int) -> tuple[int, int]:
    """Each side rounded on its own to the multiple nearest the wanted size (720p 16:9 on Wan 2.2
    5B: 1280x704, its published size); `fit` later crops the small difference in aspect."""
    short = nearest_multiple(short_side, multiple)
    long = nearest_multiple(
        short_side * max(image_width, image_height) / min(image_width, image_height), multiple
    )
    return (long, short) if image_width >= image_height else (short, long)


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` scaled to cover width x height and centre-cropped to it exactly."""
    image_h, image_w = image.shape[:2]
    if (image_w, image_h) == (width, height):
        return image
    scale = max(width / image_w, height / image_h)
    cover_w, cover_h = max(width, round(image_w * scale)), max(height, round(image_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(image, (cover_w, cover_h), interpolation=interpolation)
    left, top = (cover_w - width) // 2, (cover_h - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def condition_image(image: np.ndarray, plan: Plan) -> Image.Image:
    return Image.fromarray(fit(image, plan.gen_width, plan.gen_height))


def seeded_generator(seed: int) -> torch.Generator:
    """Noise drawn on the CPU: the same seed gives the same noise on any device."""
    return torch.Generator("cpu").manual_seed(seed)


def pick_device(setting: str) -> torch.device:
    return torch.device(setting or ("cuda" if torch.cuda.is_available() else "cpu"))


def model_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU (what the models are published in); float32 on the CPU, where bf16 is slow."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


@dataclass
class StepReporter:
    """The pipelines' `callback_on_step_end`: progress per denoising step, and cancel within one step
    (raising here stops the pipeline's loop)."""

    steps: int
    on_progress: ProgressCallback
    should_cancel: CancelCheck
    started: float = field(default_factory=time.perf_counter)
    done: int = 0

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        self.done = step + 1
        if self.should_cancel():
            raise RenderCancelled(info={"cancelled_at_step": self.done, "steps": self.steps})
        self.on_progress(DENOISED_AT * min(1.0, self.done / self.steps))
        return {}

    @property
    def seconds_per_step(self) -> float:
        return (time.perf_counter() - self.started) / max(1, self.done)


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextlib.contextmanager
def gpu_memory_guard(plan: Plan, device: torch.device, pipe: Any) -> Iterator[None]:
    """A CUDA out-of-memory error becomes GPU_OUT_OF_MEMORY naming what to lower; memory is freed
    and the pipeline's hooks are reset after a failure or a cancel, so the worker's next task starts
    clean. (diffusers resets its cache hooks' state, First Block Cache's and TaylorSeer's, only at the
    end of a call that finishes: a call cut short would hand the next task stale cached states.)

    Memory is freed outside the `except` blocks: until then the exception's traceback holds the
    pipeline's frames, and with them its tensors."""
    out_of_memory = False
    cancelled: RenderCancelled | None = None
    try:
        yield
    except torch.OutOfMemoryError:
        out_of_memory = True
    except RenderCancelled as exc:
        cancelled = RenderCancelled(str(exc), exc.info)
    except BaseException:
        pipe.maybe_free_model_hooks()
        free_memory(device)
        raise
    if out_of_memory or cancelled is not None:
        pipe.maybe_free_model_hooks()
        free_memory(device)
    if cancelled is not None:
        raise cancelled
    if out_of_memory:
        raise RenderError(
            GPU_OUT_OF_MEMORY,
            f"{plan.describe()} did not fit in GPU memory; lower the resolution or the duration, or "
            "have the operator set VIDGATE_DIFFUSERS_GENERATION_SHORT_SIDE, VIDGATE_DIFFUSERS_OFFLOAD, "
            "VIDGATE_DIFFUSERS_FP8 or VIDGATE_DIFFUSERS_VAE_TILING",
        )


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """A pipeline's float frames in [0, 1], (frames, height, width, 3), as uint8: one float copy at
    a time (LTX-2's 10 s at 1080p is 6 GB of float32 per copy)."""
    scaled = np.clip(frames, 0.0, 1.0)
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def retime(frames: np.ndarray, source_fps: int, count: int) -> Iterator[np.ndarray]:
    """`count` frames at 24 fps from frames at `source_fps`: frame i shows time i / 24 s, blended
    from the two source frames around it (24 fps sources: frame i itself, the last one dropped)."""
    for index in range(count):
        position = index * source_fps / FPS
        below = min(int(position), len(frames) - 1)
        weight = position - below
        if weight < 1e-6 or below + 1 >= len(frames):
            yield frames[below]
        else:
            mixed = frames[below].astype(np.float32) * (1.0 - weight) + frames[below + 1] * weight
            yield (mixed + 0.5).astype(np.uint8)


def encode(
    job: RenderJob,
    plan: Plan,
    frames: Iterable[np.ndarray],
    on_progress: ProgressCallback,
    should_cancel: CancelCheck,
    audio: np.ndarray | None = None,
) -> int:
    """Frames resized to the contract's size and encoded with the job's soundtrack (or `audio`, a
    family's own), watermark and tags; returns the frames written."""

    def contract_frames() -> Iterator[np.ndarray]:
        for index, frame in enumerate(frames):
            if should_cancel():
                raise RenderCancelled(info={"cancelled_while": "encoding"})
            yield fit(frame, plan.width, plan.height)
            on_progress(DECODED_AT + (1.0 - DECODED_AT) * index / plan.frames)

    written = encode_frames(
        contract_frames(),
        job.output_path,
        plan.width,
        plan.height,
        fps=job.fps,
        threads=job.encoder_threads,
        quality=job.quality,
        audio=job.audio if audio is None else audio,
        frame_filter=job.frame_filter,
        metadata=job.metadata,
    )
    if written != plan.frames:  # a bug, not a user error
        raise RuntimeError(f"diffusers engine wrote {written} frames, expected {plan.frames}")
    on_progress(1.0)
    return written


def result(
    job: RenderJob, plan: Plan, family: Family, steps: StepReporter, levers: dict[str, str], **info: object
) -> RenderResult:
    return RenderResult(
        path=job.output_path,
        width=plan.width,
        height=plan.height,
        frames=plan.frames,
        fps=job.fps,
        info={
            "family": family.key,
            "generation_size": f"{plan.gen_width}x{plan.gen_height}",
            "generated_frames": plan.generated_frames,
            "model_fps": family.fps,
            "steps": plan.steps,
            "guidance": plan.guidance,
            "seconds_per_step": round(steps.seconds_per_step, 3),
            "levers": dict(levers),
            **info,
        },
    )
