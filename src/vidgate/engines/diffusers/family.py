"""Which model family a folder holds, and whether the folder is complete: JSON files only.

The API process calls this (through the engine's limits) and must never import torch or diffusers,
so everything here reads `model_index.json` and the components' `config.json`, nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidgate.settings import Settings

# Wan's recommended negative prompt (from its model card): the model was trained with it.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
LTX2_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"


@dataclass(frozen=True)
class Family:
    key: str  # the VIDGATE_DIFFUSERS_FAMILY value
    title: str
    fps: int  # the frame rate the model was trained at
    multiple: int  # generation width and height are multiples of this
    frame_step: int  # generated frame counts are frame_step * k + 1
    max_duration: int  # seconds the model was trained for; longer requests are refused at submit
    max_images: int | None  # None: as many as the deployment allows (keyframes)
    steps: int  # the quality preset's denoising steps
    guidance: float  # the quality preset's classifier-free guidance scale
    negative_prompt: str
    makes_audio: bool
    licence: str


FAMILIES: dict[str, Family] = {
    "wan-ti2v-5b": Family(
        key="wan-ti2v-5b",
        title="Wan 2.2 TI2V-5B",
        fps=24,
        multiple=32,
        frame_step=4,
        max_duration=5,
        max_images=1,
        steps=50,
        guidance=5.0,
        negative_prompt=WAN_NEGATIVE_PROMPT,
        makes_audio=False,
        licence="Apache-2.0",
    ),
    "wan-a14b": Family(
        key="wan-a14b",
        title="Wan 2.1 I2V-14B / Wan 2.2 I2V-A14B",
        fps=16,
        multiple=16,
        frame_step=4,
        max_duration=5,
        max_images=2,  # first and last frame
        steps=40,
        guidance=3.5,
        negative_prompt=WAN_NEGATIVE_PROMPT,
        makes_audio=False,
        licence="Apache-2.0",
    ),
    "ltx-2": Family(
        key="ltx-2",
        title="LTX-2",
        fps=24,
        multiple=32,
        frame_step=8,
        max_duration=10,  # trained up to 20 s; the contract stops at 10
        max_images=None,
        steps=40,
        guidance=3.0,  # the pipeline's default, with its STG and modality guidance
        negative_prompt=LTX2_NEGATIVE_PROMPT,
        makes_audio=True,
        licence="LTX-2 Community License (not Apache: read it before commercial use)",
    ),
}

WAN_CLASSES = ("WanImageToVideoPipeline", "WanPipeline")
LTX2_CLASSES = ("LTX2ImageToVideoPipeline", "LTX2ConditionPipeline", "LTX2Pipeline")
# Component classes that carry no weights of their own.
WEIGHTLESS = ("Scheduler", "Tokenizer", "TokenizersBackend", "Processor")
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    family: Family
    pipeline_class: str
    components: dict[str, str]  # name -> class, for the components the folder declares
    has_audio: bool  # LTX-2 with its audio VAE and vocoder


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"missing {path}") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value


def open_folder(path: Path) -> ModelFolder:
    """The family of the model in `path`, after checking that every component it declares is there
    (config and weights); a ValueError names what is missing or unsupported."""
    if not path.is_dir():
        raise ValueError(f"the model folder {path} does not exist")
    index = read_json(path / "model_index.json")
    pipeline_class = str(index.get("_class_name", ""))
    components = {
        name: str(value[1])
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and value[1]
    }
    missing = [item for name, cls in components.items() for item in _missing_parts(path, name, cls)]
    if missing:
        raise ValueError(f"the model folder {path} is incomplete: missing {', '.join(missing)}")
    family = _detect(path, index, pipeline_class, components)
    has_audio = family.makes_audio and {"audio_vae", "vocoder"} <= components.keys()
    return ModelFolder(path, family, pipeline_class, components, has_audio)


def _detect(path: Path, index: dict[str, Any], pipeline_class: str, components: dict[str, str]) -> Family:
    if pipeline_class in LTX2_CLASSES:
        return FAMILIES["ltx-2"]
    if pipeline_class not in WAN_CLASSES:
        raise ValueError(
            f"{path / 'model_index.json'}: pipeline {pipeline_class!r} is not a supported family "
            f"({', '.join(WAN_CLASSES + LTX2_CLASSES)})"
        )
    vae = read_json(path / "vae" / "config.json")
    if "transformer_2" in components or "image_encoder" in components or index.get("boundary_ratio"):
        # 2.2 A14B's two experts, or 2.1's CLIP image encoder. Wan 2.2 T2V-A14B has the two experts
        # too; an image-to-video transformer takes the image's latents beside the noise's, so more
        # channels in than the VAE's latent has (36 against 16 at full size).
        transformer = read_json(path / "transformer" / "config.json")
        if transformer.get("in_channels", 0) <= vae.get("z_dim", 16):
            raise ValueError(
                f"{path}: a Wan text-to-video model (its transformer takes no image latents); "
                "vidgate needs an image-to-video model"
            )
        return FAMILIES["wan-a14b"]
    if index.get("expand_timesteps") or vae.get("z_dim") == 48:
        return FAMILIES["wan-ti2v-5b"]
    raise ValueError(
        f"{path}: a Wan model that is neither TI2V-5B nor I2V-A14B (text-to-video only?); "
        "vidgate needs an image-to-video model"
    )


def _missing_parts(path: Path, name: str, cls: str) -> list[str]:
    folder = path / name
    if not folder.is_dir():
        return [f"{name}/"]
    if any(marker in cls for marker in WEIGHTLESS):
        return [] if any(folder.iterdir()) else [f"{name}/ (empty)"]
    missing = [] if (folder / "config.json").is_file() else [f"{name}/config.json"]
    shard_indexes = list(folder.glob("*.index.json"))
    if shard_indexes:
        for shard_index in shard_indexes:
            shards = set(read_json(shard_index).get("weight_map", {}).values())
            missing += [f"{name}/{shard}" for shard in sorted(shards) if not (folder / shard).is_file()]
    elif not any(entry.name.endswith(WEIGHT_SUFFIXES) for entry in folder.iterdir()):
        missing.append(f"{name}/ weights (*.safetensors)")
    return missing


def configured_family(settings: Settings) -> Family:
    """The family the settings name, or the one in the model folder; the default family when
    neither says (an API host that has no folder and no VIDGATE_DIFFUSERS_FAMILY)."""
    if settings.diffusers_family != "auto":
        return FAMILIES[settings.diffusers_family]
    if settings.diffusers_model_path is None:
        return FAMILIES["wan-ti2v-5b"]
    try:
        return open_folder(settings.diffusers_model_path).family
    except ValueError:
        return FAMILIES["wan-ti2v-5b"]  # check_settings reports the folder where it matters: the worker
