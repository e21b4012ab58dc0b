"""Speed and memory levers, each a setting that is off by default (docs/engines.md, measured effects).

`apply_levers` runs once, when a worker loads the pipeline, and returns what it did with each lever
that is on ("on", or why it was skipped) for the task's `extra`. The order matters: a LoRA is fused
into full-precision weights before they are stored in float8; compile comes last, over the final
modules; placement (offload or `.to(device)`) before compile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vidgate.settings import Settings

FIRST_BLOCK_CACHE_THRESHOLD = 0.05  # diffusers' default: skip the rest when block 1 changed < 5 %
SKIPPED_ON_CPU = "skipped: needs a GPU"


def transformers_of(pipe: Any) -> list[Any]:
    """The denoising models: Wan 2.2 A14B has two (high- and low-noise experts)."""
    return [
        model for model in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None)) if model
    ]


def apply_levers(pipe: Any, settings: Settings, device: torch.device, dtype: torch.dtype) -> dict[str, str]:
    applied: dict[str, str] = {}
    models = transformers_of(pipe)
    if settings.diffusers_preset == "fast" and settings.diffusers_fast_lora is not None:
        load_fast_lora(pipe, settings)
        applied["fast_lora"] = settings.diffusers_fast_lora.name
    if settings.diffusers_fp8:
        for model in models:
            model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
        applied["fp8"] = "on"
    if settings.diffusers_attention_backend:
        for model in models:
            model.set_attention_backend(settings.diffusers_attention_backend)
        applied["attention_backend"] = settings.diffusers_attention_backend
    if settings.diffusers_cache != "off":
        for model in models:
            model.enable_cache(_cache_config(settings.diffusers_cache))
        applied["cache"] = settings.diffusers_cache
    if settings.diffusers_vae_tiling:
        pipe.vae.enable_tiling()
        applied["vae_tiling"] = "on"
    applied.update(_place(pipe, settings, device))
    if settings.diffusers_compile:
        for model in models:
            # Not fullgraph: the cache hooks decide per step outside the graph (a graph break by
            # design); a block with no hook compiles whole either way.
            model.compile_repeated_blocks(fullgraph=False)
        applied["compile"] = "repeated blocks"
    return applied


def load_fast_lora(pipe: Any, settings: Settings) -> None:
    """A distilled LoRA (few steps, no guidance), fused into the weights: no cost per step after.

    Wan 2.2 A14B's distilled LoRAs come as two files, one per expert: a folder holding a
    `*high_noise*` and a `*low_noise*` file loads the first into `transformer`, the second into
    `transformer_2`. Any other file or folder loads into `transformer`."""
    path = settings.diffusers_fast_lora
    assert path is not None
    folder, weight_name = (path.parent, path.name) if path.is_file() else (path, None)
    experts = _expert_files(folder) if weight_name is None and getattr(pipe, "transformer_2", None) else None
    if experts is None:
        pipe.load_lora_weights(
            str(folder), weight_name=weight_name, adapter_name="fast", local_files_only=True
        )
        pipe.fuse_lora(adapter_names=["fast"])
    else:
        high, low = experts
        pipe.load_lora_weights(str(folder), weight_name=high, adapter_name="fast", local_files_only=True)
        pipe.load_lora_weights(
            str(folder),
            weight_name=low,
            adapter_name="fast_2",
            load_into_transformer_2=True,
            local_files_only=True,
        )
        pipe.fuse_lora(adapter_names=["fast", "fast_2"], components=["transformer", "transformer_2"])
    pipe.unload_lora_weights()  # the fused weights stay; peft's adapter layers go


def _expert_files(folder: Path) -> tuple[str, str] | None:
    high = sorted(entry.name for entry in folder.glob("*high_noise*.safetensors"))
    low = sorted(entry.name for entry in folder.glob("*low_noise*.safetensors"))
    return (high[0], low[0]) if high and low else None


def _cache_config(kind: str) -> Any:
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    if kind == "first_block":
        return FirstBlockCacheConfig(threshold=FIRST_BLOCK_CACHE_THRESHOLD)
    return TaylorSeerCacheConfig()


def _place(pipe: Any, settings: Settings, device: torch.device) -> dict[str, str]:
    if settings.diffusers_offload == "off":
        pipe.to(device)
        return {}
    if device.type != "cuda":
        pipe.to(device)
        return {"offload": SKIPPED_ON_CPU}
    if settings.diffusers_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_group_offload(
            onload_device=device,
            offload_device=torch.device("cpu"),
            offload_type="leaf_level",
            use_stream=True,
        )
    return {"offload": settings.diffusers_offload}
