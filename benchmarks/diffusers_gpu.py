"""Wan 2.2 TI2V-5B at full size on one GPU: seconds per step, VAE decode, peak VRAM, each lever.

Run on a CUDA machine: `python benchmarks/diffusers_gpu.py [--out results.json]` (about 5 minutes
on one H100/H200; made to finish within 8). The transformer and VAE are built from the published
configs (Wan-AI/Wan2.2-TI2V-5B-Diffusers, written below) with random weights: speed does not
depend on the values, and nothing is downloaded. The text encoder (UMT5-XXL) is left out: prompt
embeddings of its shape (512 x 4096) are drawn at random, which is what the transformer sees.

The machine needs torch (CUDA) and transformers; diffusers, when missing, is installed with
`pip install --no-index` from wheels placed beside this script, in `benchmarks/wheels/` (made on a
machine with network by `pip download diffusers==0.42.1 -d benchmarks/wheels`: diffusers and its
dependencies, no torch; pip takes from them only what is missing).

Rows, all at 1280x704, 121 frames (5 s at 24 fps), bf16 transformer, float32 VAE:
- plain: diffusers' own call, CFG 5 (two transformer passes a step); s/step, VAE decode s, peak VRAM.
  "quality s/video" = 50 steps x s/step + decode; "fast s/video" = 4 steps x s/step at guidance 1
  + decode (the fast preset's LoRA is fused into the weights at load: no cost per step).
- each lever on its own at guidance 1: compile (regional), first-block cache, TaylorSeer, the
  attention backends, fp8 layerwise casting, VAE tiling (decode), model offload.
- cache + compile together at equal steps against plain: the issue's >= 1.5x goal. Caches skip
  work by how alike successive steps are, and random weights do not make steps alike the way a
  trained model does: those rows measure the mechanism's cost, not its real-model saving.

`--cpu-smoke` runs the same code with configs shrunk to a few channels, on the CPU, in seconds:
it checks that the script works where no GPU is at hand.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent

# Wan-AI/Wan2.2-TI2V-5B-Diffusers transformer/config.json.
TRANSFORMER_CONFIG: dict[str, Any] = {
    "added_kv_proj_dim": None,
    "attention_head_dim": 128,
    "cross_attn_norm": True,
    "eps": 1e-06,
    "ffn_dim": 14336,
    "freq_dim": 256,
    "image_dim": None,
    "in_channels": 48,
    "num_attention_heads": 24,
    "num_layers": 30,
    "out_channels": 48,
    "patch_size": [1, 2, 2],
    "pos_embed_seq_len": None,
    "qk_norm": "rms_norm_across_heads",
    "rope_max_seq_len": 1024,
    "text_dim": 4096,
}
# Wan-AI/Wan2.2-TI2V-5B-Diffusers vae/config.json (latents_mean/std: their values do not change speed).
VAE_CONFIG: dict[str, Any] = {
    "attn_scales": [],
    "base_dim": 160,
    "decoder_base_dim": 256,
    "dim_mult": [1, 2, 4, 4],
    "dropout": 0.0,
    "in_channels": 12,
    "is_residual": True,
    "latents_mean": [0.0] * 48,
    "latents_std": [1.0] * 48,
    "num_res_blocks": 2,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_spatial": 16,
    "scale_factor_temporal": 4,
    "temperal_downsample": [False, True, True],
    "z_dim": 48,
}
# The same shapes, a few channels wide: for --cpu-smoke.
SMOKE_TRANSFORMER = TRANSFORMER_CONFIG | {
    "attention_head_dim": 12,
    "num_attention_heads": 2,
    "ffn_dim": 32,
    "num_layers": 2,
    "text_dim": 32,
    "rope_max_seq_len": 32,
}
SMOKE_VAE = VAE_CONFIG | {
    "base_dim": 3,
    "decoder_base_dim": None,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
}


@dataclass(frozen=True)
class Scale:
    width: int = 1280
    height: int = 704
    frames: int = 121
    text_tokens: int = 512
    steps: int = 3  # measured steps per row, after one warm-up call
    cache_steps: int = 10  # caches need a run of steps to skip any


@dataclass
class Row:
    name: str
    seconds_per_step: float
    decode_s: float | None
    peak_vram_gib: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def ensure_diffusers() -> None:
    try:
        importlib.import_module("diffusers")
        return
    except ImportError:
        pass
    sources = [str(path) for path in (HERE / "wheels", HERE) if path.is_dir()]
    find_links = [arg for source in sources for arg in ("--find-links", source)]
    command = [sys.executable, "-m", "pip", "install", "--no-index", *find_links, "diffusers>=0.42.1"]
    print("installing diffusers:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    importlib.invalidate_caches()


def build_pipe(device: torch.device, smoke: bool) -> Any:
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):  # random init on the GPU: seconds, not minutes on the CPU
        transformer = WanTransformer3DModel(**(SMOKE_TRANSFORMER if smoke else TRANSFORMER_CONFIG)).to(dtype)
        vae = AutoencoderKLWan(**(SMOKE_VAE if smoke else VAE_CONFIG)).to(torch.float32)
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
    )
    pipe = WanImageToVideoPipeline(
        tokenizer=None,
        text_encoder=None,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        transformer_2=None,
        image_encoder=None,
        image_processor=None,
        boundary_ratio=None,
        expand_timesteps=True,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def fresh_peak(device: torch.device) -> Iterator[None]:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    yield


def call(
    pipe: Any, scale: Scale, device: torch.device, steps: int, guidance: float, decode: bool
) -> tuple[float, float | None]:
    """One pipeline call: (seconds per denoising step, VAE decode seconds or None)."""
    from PIL import Image

    dtype = pipe.transformer.dtype
    text_dim = pipe.transformer.config.text_dim
    generator = torch.Generator("cpu").manual_seed(0)
    embeds = torch.randn((1, scale.text_tokens, text_dim), generator=generator).to(device, dtype)
    negative = torch.randn((1, scale.text_tokens, text_dim), generator=generator).to(device, dtype)
    stamps: list[float] = []

    def on_step(_pipe: Any, _step: int, _t: Any, _tensors: dict[str, Any]) -> dict[str, Any]:
        synchronize(device)
        stamps.append(time.perf_counter())
        return {}

    synchronize(device)
    started = time.perf_counter()
    pipe(
        image=Image.new("RGB", (scale.width, scale.height), (90, 120, 160)),
        prompt_embeds=embeds,
        negative_prompt_embeds=negative if guidance > 1 else None,
        height=scale.height,
        width=scale.width,
        num_frames=scale.frames,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=generator,
        output_type="np" if decode else "latent",
        callback_on_step_end=on_step,
    )
    synchronize(device)
    ended = time.perf_counter()
    # The first step also pays the image encode and set-up: time steps 2.. when there are several.
    per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else stamps[0] - started
    return per_step, (ended - stamps[-1]) if decode else None


def measure(
    name: str,
    pipe: Any,
    scale: Scale,
    device: torch.device,
    guidance: float,
    decode: bool = False,
    steps: int | None = None,
    note: str = "",
) -> Row:
    call(pipe, scale, device, 2, guidance, decode=False)  # warm-up (and compile, when on)
    with fresh_peak(device):
        per_step, decode_s = call(pipe, scale, device, steps or scale.steps, guidance, decode)
        row = Row(name, per_step, decode_s, peak_gib(device), note)
    decoding = f"decode {decode_s or 0:7.2f} s"
    print(f"{name:<34} {per_step:8.3f} s/step  {decoding}  peak {row.peak_vram_gib:6.1f} GiB", flush=True)
    return row


class Rows:
    """The rows measured so far, written to `out` after each one (a run stopped at its limit keeps
    what it measured), each optional row skipped once past `budget_s` and its failure recorded
    rather than ending the run (a backend or a package this machine lacks)."""

    def __init__(self, out: Path | None, budget_s: float) -> None:
        self.rows: list[Row] = []
        self.out, self.budget_s, self.started = out, budget_s, time.perf_counter()

    def add(self, name: str, make: Callable[[], Row]) -> Row | None:
        if time.perf_counter() - self.started > self.budget_s:
            row = Row(name, float("nan"), None, 0.0, f"skipped: past the {self.budget_s:.0f} s budget")
        else:
            try:
                row = make()
            except Exception as exc:  # say what failed and measure the rest
                row = Row(name, float("nan"), None, 0.0, f"failed: {type(exc).__name__}: {exc}"[:160])
        self.rows.append(row)
        if self.out is not None:
            self.out.write_text(json.dumps([each.__dict__ for each in self.rows], indent=2))
        return row


def run(scale: Scale, device: torch.device, smoke: bool, rows: Rows) -> list[Row]:
    from diffusers import FirstBlockCacheConfig, TaylorSeerCacheConfig

    started = time.perf_counter()
    pipe = build_pipe(device, smoke)
    print(f"built transformer + VAE in {time.perf_counter() - started:.1f} s", flush=True)

    def lever(
        name: str, on: Callable[[], object], off: Callable[[], object], **options: Any
    ) -> Callable[[], Row]:
        def measured() -> Row:
            on()
            try:
                return measure(name, pipe, scale, device, **({"guidance": 1.0} | options))
            finally:
                off()

        return measured

    # The rows that matter most first: the plain calls and compile, then the other levers.
    plain = rows.add(
        "plain, CFG 5", lambda: measure("plain, CFG 5", pipe, scale, device, guidance=5.0, decode=True)
    )
    plain_1 = rows.add(
        "plain, guidance 1", lambda: measure("plain, guidance 1", pipe, scale, device, guidance=1.0)
    )
    if plain is not None and plain_1 is not None:
        decode_s = plain.decode_s or 0.0
        plain.extra["quality_denoise_decode_s_per_video"] = round(50 * plain.seconds_per_step + decode_s, 1)
        # Denoising and decoding only: text and image encoding, resizing and x264 come on top.
        plain_1.extra["fast_denoise_decode_s_per_video"] = round(4 * plain_1.seconds_per_step + decode_s, 1)

    for backend in ("flash", "_native_cudnn", "_native_flash", "sage"):
        rows.add(
            f"attention {backend}",
            lever(
                f"attention {backend}",
                lambda backend=backend: pipe.transformer.set_attention_backend(backend),
                pipe.transformer.reset_attention_backend,
            ),
        )
    for label, config in (
        ("first-block cache 0.05", FirstBlockCacheConfig(threshold=0.05)),
        ("TaylorSeer cache", TaylorSeerCacheConfig()),
    ):
        rows.add(
            label,
            lever(
                label,
                lambda config=config: pipe.transformer.enable_cache(config),
                pipe.transformer.disable_cache,
                steps=scale.cache_steps,
                note="random weights",
            ),
        )
    rows.add(
        "plain, guidance 1, cache steps",
        lambda: measure(
            "plain, guidance 1, cache steps", pipe, scale, device, guidance=1.0, steps=scale.cache_steps
        ),
    )
    rows.add(
        "VAE tiling",
        lever("VAE tiling", pipe.vae.enable_tiling, pipe.vae.disable_tiling, decode=True, steps=1),
    )
    if device.type == "cuda":  # needs accelerate, which the GPU host may lack: a failed row, not a failed run

        def offload_off() -> None:
            pipe.remove_all_hooks()
            pipe.to(device)

        rows.add(
            "model offload",
            lever("model offload", lambda: pipe.enable_model_cpu_offload(device=device), offload_off),
        )

    def compiled() -> Row:
        compile_started = time.perf_counter()
        pipe.transformer.compile_repeated_blocks(fullgraph=False)  # as the engine: cache hooks break graphs
        row = measure("compile (regional)", pipe, scale, device, guidance=1.0)
        row.extra["first_call_s"] = round(time.perf_counter() - compile_started, 1)
        return row

    rows.add("compile (regional)", compiled)
    rows.add(
        "compile + first-block cache",
        lever(
            "compile + first-block cache",
            lambda: pipe.transformer.enable_cache(FirstBlockCacheConfig(threshold=0.05)),
            pipe.transformer.disable_cache,
            steps=scale.cache_steps,
            note="random weights",
        ),
    )

    def fp8() -> Row:  # last: casting the weights in place is not undone
        pipe.transformer.enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=pipe.transformer.dtype
        )
        return measure("fp8 layerwise casting (+compile)", pipe, scale, device, guidance=1.0)

    rows.add("fp8 layerwise casting (+compile)", fp8)
    return rows.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny configs on the CPU: check the script")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here (after each row)")
    parser.add_argument(
        "--budget", type=float, default=420.0, help="seconds after which the remaining rows are skipped"
    )
    args = parser.parse_args()
    ensure_diffusers()
    if args.cpu_smoke:
        device, scale = (
            torch.device("cpu"),
            Scale(width=64, height=64, frames=9, text_tokens=16, steps=2, cache_steps=3),
        )
    else:
        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run with --cpu-smoke to check the script on the CPU")
        device, scale = torch.device("cuda"), Scale()
        print(torch.cuda.get_device_name(device), f"torch {torch.__version__}", flush=True)
    started = time.perf_counter()
    rows = run(scale, device, args.cpu_smoke, Rows(args.out, args.budget))
    print(f"total {time.perf_counter() - started:.0f} s")
    print("\n| row | s/step | VAE decode s | peak VRAM GiB | note |\n|---|---|---|---|---|")
    for row in rows:
        decode = f"{row.decode_s:.2f}" if row.decode_s is not None else ""
        extra = ", ".join(f"{key} {value}" for key, value in row.extra.items())
        note = "; ".join(part for part in (row.note, extra) if part)
        print(f"| {row.name} | {row.seconds_per_step:.3f} | {decode} | {row.peak_vram_gib:.1f} | {note} |")


if __name__ == "__main__":
    main()
