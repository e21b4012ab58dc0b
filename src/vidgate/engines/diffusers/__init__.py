"""The `diffusers` engine: open image-to-video models from a local folder, on the worker's GPU.

One module per family (`wan.py`: Wan 2.2 TI2V-5B and Wan 2.1/2.2 I2V-A14B; `ltx2.py`: LTX-2), each
reading top to bottom like a diffusers pipeline call; what they share (frame counts, sizing,
progress, cancel, out-of-memory, encoding, the speed levers) is in `common.py`.

This package's own module is import-light: the API process reads the engine's limits from here and
must never import torch; `load` imports the heavy modules when a worker starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vidgate.engines.base import ALL_DURATIONS, PARAMETERS, EngineLimits
from vidgate.engines.diffusers.family import configured_family, open_folder
from vidgate.errors import InvalidRequestBody
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams

# LTX-2's latent frames: its VAE packs 8 of the 24 frames a second into one.
LTX2_KEYFRAMES_PER_SECOND = 3

if TYPE_CHECKING:
    from vidgate.engines.base import Engine


def limits(settings: Settings) -> EngineLimits:
    family = configured_family(settings)
    renders_itself = frozenset({"audio"}) if family.makes_audio else frozenset()
    images = (
        "keyframes at any position" if family.max_images is None else f"up to {family.max_images} image(s)"
    )
    return EngineLimits(
        durations=tuple(d for d in ALL_DURATIONS if d <= family.max_duration),
        max_images=family.max_images,
        honours=frozenset(PARAMETERS),
        renders_itself=renders_itself,
        notes=f"{family.title}: trained for {family.max_duration} s at {family.fps} fps; {images}",
    )


def check_settings(settings: Settings) -> None:
    """Stops a worker at start, with one line, when the model folder is unset, missing or incomplete."""
    if settings.diffusers_model_path is None:
        raise ValueError("VIDGATE_DIFFUSERS_MODEL_PATH is required for the diffusers engine")
    try:
        folder = open_folder(settings.diffusers_model_path)
    except ValueError as exc:
        raise ValueError(f"VIDGATE_DIFFUSERS_MODEL_PATH: {exc}") from None
    if settings.diffusers_family not in ("auto", folder.family.key):
        raise ValueError(
            f"VIDGATE_DIFFUSERS_FAMILY is {settings.diffusers_family!r} but "
            f"{settings.diffusers_model_path} holds {folder.family.key!r}"
        )
    if settings.diffusers_preset == "fast":
        if settings.diffusers_fast_lora is None:
            raise ValueError(
                "VIDGATE_DIFFUSERS_PRESET=fast needs VIDGATE_DIFFUSERS_FAST_LORA (a distilled LoRA)"
            )
        if not settings.diffusers_fast_lora.exists():
            raise ValueError(f"VIDGATE_DIFFUSERS_FAST_LORA: {settings.diffusers_fast_lora} does not exist")


def check_request(params: TaskParams, settings: Settings) -> None:
    """LTX-2 puts each image on a keyframe of its own: no more images than the video has latent frames."""
    if configured_family(settings).key != "ltx-2":
        return
    slots = LTX2_KEYFRAMES_PER_SECOND * params.duration + 1
    if len(params.images) > slots:
        raise InvalidRequestBody(
            f"LTX-2 places each image on a keyframe of its own: a {params.duration} s video has "
            f"{slots}; send at most {slots} images or a longer duration.",
            {"field": "images"},
        )


def load(settings: Settings) -> Engine:
    check_settings(settings)
    assert settings.diffusers_model_path is not None
    folder = open_folder(settings.diffusers_model_path)
    if folder.family.key == "ltx-2":
        from vidgate.engines.diffusers.ltx2 import Ltx2Engine

        return Ltx2Engine(folder, settings)
    from vidgate.engines.diffusers.wan import WanEngine

    return WanEngine(folder, settings)
