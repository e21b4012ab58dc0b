"""From a task's parameters to an engine's `RenderJob`: one place for the worker and `vidgate generate`,
so a local render is the render a worker would make."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vidgate.engines import spec
from vidgate.engines.base import (
    Engine,
    EngineState,
    NoState,
    RenderError,
    RenderJob,
    ShrinksInputs,
    output_size,
)
from vidgate.errors import InvalidRequestBody
from vidgate.media.encode import Quality
from vidgate.media.watermark import WatermarkStyle, provenance_tags, watermark_in
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams

if TYPE_CHECKING:
    from vidgate.media.audio.soundtrack import Soundtrack

# Reads one input image, validated and normalised (RGB uint8, HxWx3), at its full size.
ImageLoader = Callable[[], np.ndarray]
# When the first image is shrunk, its sides may each grow by up to this many pixels so that its
# rounded aspect ratio, and with it the video's size, stays exactly what the original gives.
OUTPUT_SIZE_SEARCH_PX = 4


def load_images(params: TaskParams, loaders: Sequence[ImageLoader], engine: Engine) -> list[np.ndarray]:
    """The task's images, read one at a time; for an engine that `ShrinksInputs`, each is shrunk as
    soon as it is read to the size that engine would shrink it to when it first shows it.

    A render holds its images from start to end: eight 4000x3000 photos are 288 MB of pixels, most
    of which a 1080p view never samples. Shrunk here, only one full-size image exists at a time.
    Inputs were validated at their own size when submitted or fetched (`inputs.images.normalise`),
    and the shrink depends only on the pixels and the task, so a retry gets the same pixels."""
    if not isinstance(engine, ShrinksInputs):
        return [load() for load in loaders]
    size_for = engine.input_sizes(params, len(loaders))
    images: list[np.ndarray] = []
    video_size = (0, 0)
    for index, load in enumerate(loaders):
        image = load()
        height, width = image.shape[:2]
        if index == 0:  # the engine takes the video's aspect ratio from the first image
            video_size = output_size(width, height, params.short_side)
        size = size_for(index, width, height, *video_size)
        if size is not None and index == 0:
            size = _keeping_video_size(size, video_size, params.short_side)
        images.append(image if size is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA))
        del image  # before the next load: never two full-size images at once
    return images


def _keeping_video_size(
    size: tuple[int, int], video_size: tuple[int, int], short_side: int
) -> tuple[int, int] | None:
    """`size`, or the nearest size at least as large that gives the same video size; None if none does."""
    steps = range(OUTPUT_SIZE_SEARCH_PX + 1)
    for grow_w, grow_h in sorted(((w, h) for w in steps for h in steps), key=sum):
        candidate = (size[0] + grow_w, size[1] + grow_h)
        if output_size(*candidate, short_side) == video_size:
            return candidate
    return None


def build_render_job(
    params: TaskParams,
    images: list[np.ndarray],
    output: Path,
    settings: Settings,
    engine_name: str,
    quality: Quality | None = None,
    *,
    task_id: str = "",
    image_urls: tuple[str, ...] = (),
    state: EngineState | None = None,
) -> tuple[RenderJob, dict[str, object]]:
    """The job, with its soundtrack and watermark made here so every engine gets them alike (except
    what the engine makes itself, `EngineLimits.renders_itself`), and the soundtrack's notes for the
    result (e.g. `voice_id_used`). Speech that does not fit (or an unknown voice in strict mode)
    raises `RenderError`."""
    own = spec(engine_name).limits(settings).renders_itself
    sound = replace(params, bgm=params.bgm and "bgm" not in own, audio=params.audio and "audio" not in own)
    soundtrack = _soundtrack(sound, len(images), settings)
    marked = params.watermark and "watermark" not in own
    job = RenderJob(
        images=images,
        prompt=params.prompt,
        duration=params.duration,
        short_side=params.short_side,
        movement_amplitude=params.movement_amplitude,  # type: ignore[arg-type]
        seed=params.seed,
        output_path=output,
        encoder_threads=settings.encoder_threads,
        quality=quality or settings.quality,
        audio=soundtrack.samples if soundtrack else None,
        frame_filter=watermark_in(WatermarkStyle.from_settings(settings)) if marked else None,
        metadata=provenance_tags(engine_name, params.seed),
        params=params,
        task_id=task_id,
        image_urls=image_urls,
        state=state or NoState(),
    )
    return job, dict(soundtrack.info) if soundtrack else {}


def _soundtrack(params: TaskParams, keyframes: int, settings: Settings) -> Soundtrack | None:
    if not (params.bgm or params.audio):
        return None
    # Imported here: scipy and pyloudnorm cost most of a second, paid only by tasks with sound.
    from vidgate.media.audio.mix import SpeechDoesNotFit
    from vidgate.media.audio.soundtrack import SoundOptions, build_soundtrack
    from vidgate.media.audio.speech import SpeechDisabled
    from vidgate.media.audio.voices import UnknownVoice

    try:
        return build_soundtrack(
            params.prompt,
            params.duration,
            params.seed,
            keyframes,
            bgm=params.bgm,
            audio=params.audio,
            voice_id=params.voice_id,
            options=SoundOptions.from_settings(settings),
        )
    except (SpeechDoesNotFit, SpeechDisabled, UnknownVoice) as exc:
        # Checked at submit; only settings changed since (speed limit, strict voices, speech) land here.
        raise RenderError(InvalidRequestBody.reason, str(exc)) from None
