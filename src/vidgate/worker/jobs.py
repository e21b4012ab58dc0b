"""From a task's parameters to an engine's `RenderJob`: one place for the worker and `vidgate generate`,
so a local render is the render a worker would make."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidgate.engines.base import RenderError, RenderJob
from vidgate.errors import InvalidRequestBody
from vidgate.media.encode import Quality
from vidgate.media.watermark import Watermark, provenance_tags
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams

if TYPE_CHECKING:
    from vidgate.media.audio.soundtrack import Soundtrack


def build_render_job(
    params: TaskParams,
    images: list[np.ndarray],
    output: Path,
    settings: Settings,
    engine_name: str,
    watermark: Watermark | None,
    quality: Quality | None = None,
) -> tuple[RenderJob, dict[str, object]]:
    """The job, with its soundtrack and watermark made here so every engine gets them alike, and the
    soundtrack's notes for the result (e.g. `voice_id_used`). `watermark` is used when the task asks
    for one. Speech that does not fit (or an unknown voice in strict mode) raises `RenderError`."""
    soundtrack = _soundtrack(params, len(images), settings)
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
        frame_filter=watermark if params.watermark else None,
        metadata=provenance_tags(engine_name, params.seed),
    )
    return job, dict(soundtrack.info) if soundtrack else {}


def _soundtrack(params: TaskParams, keyframes: int, settings: Settings) -> Soundtrack | None:
    if not (params.bgm or params.audio):
        return None
    # Imported here: scipy and pyloudnorm cost most of a second, paid only by tasks with sound.
    from vidgate.media.audio.mix import SpeechDoesNotFit
    from vidgate.media.audio.soundtrack import SoundOptions, build_soundtrack
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
    except (SpeechDoesNotFit, UnknownVoice) as exc:
        # Checked at submit; only settings changed since (speed limit, strict voices) land here.
        raise RenderError(InvalidRequestBody.reason, str(exc)) from None
