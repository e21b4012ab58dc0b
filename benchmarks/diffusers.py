"""The diffusers engine against a bare pipeline call, whole task, on the CPU (goal: overhead <= 1.05).

Run: `.venv/bin/python benchmarks/diffusers.py [--runs 5]`. Both sides use the same tiny random
Wan 2.2 TI2V-5B folder (built here, as the tests build it), the same generation size, steps, seed
and encoder settings, and produce the same 540p 24-frame MP4:

- engine: `Engine.render` on a real RenderJob (plan, condition image, the pipeline with the step
  callback, uint8, drop the last frame, resize to the contract's size, encode).
- bare: the least a script needs for the same file: the pipeline call, uint8, a cv2 resize of each
  frame, `encode_frames`.

Runs are interleaved (engine, bare, engine, ...) after one warm-up of each; medians are reported.
The tiny model makes the engine's own work (everything but the pipeline) as large a share as it
can be: on a real model the pipeline's seconds swamp it.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the library it measures: keep its folder off the path, or
# `import diffusers` would import this script; the tests' folder goes on it for the tiny model.
HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "tests"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import WanImageToVideoPipeline  # noqa: E402
from PIL import Image  # noqa: E402

from engines.diffusers_models import build_wan_ti2v  # noqa: E402
from engines.motion_support import textured_image  # noqa: E402
from vidgate.engines import SPECS  # noqa: E402
from vidgate.engines.base import RenderJob, output_size  # noqa: E402
from vidgate.engines.diffusers import common  # noqa: E402
from vidgate.media.encode import encode_frames  # noqa: E402
from vidgate.settings import Settings  # noqa: E402

GENERATION_SHORT_SIDE = 64
STEPS = 4
SEED = 11
DURATION = 1
SHORT_SIDE = 540


def engine_run(engine: object, image: np.ndarray, out: Path) -> tuple[float, float]:
    job = RenderJob(
        images=[image],
        prompt="a cat walks slowly",
        duration=DURATION,
        short_side=SHORT_SIDE,
        movement_amplitude="auto",
        seed=SEED,
        output_path=out,
    )
    started, cpu = time.perf_counter(), time.process_time()
    engine.render(job, lambda _: None, lambda: False)  # type: ignore[attr-defined]
    return time.perf_counter() - started, time.process_time() - cpu


def bare_run(
    pipe: WanImageToVideoPipeline, image: np.ndarray, plan: common.Plan, out: Path
) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    output = pipe(
        image=Image.fromarray(
            cv2.resize(image, (plan.gen_width, plan.gen_height), interpolation=cv2.INTER_AREA)
        ),
        prompt=plan.prompt,
        negative_prompt=plan.negative_prompt,
        height=plan.gen_height,
        width=plan.gen_width,
        num_frames=plan.generated_frames,
        num_inference_steps=plan.steps,
        guidance_scale=plan.guidance,
        generator=torch.Generator("cpu").manual_seed(SEED),
        output_type="np",
    )
    frames = (output.frames[0] * 255 + 0.5).astype(np.uint8)[: plan.frames]
    resized = (
        cv2.resize(frame, (plan.width, plan.height), interpolation=cv2.INTER_CUBIC) for frame in frames
    )
    encode_frames(resized, out, plan.width, plan.height, fps=24)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidgate-diffusers-bench-"))
    folder = build_wan_ti2v(work / "wan-ti2v")
    settings = Settings(
        diffusers_model_path=folder,
        diffusers_generation_short_side=GENERATION_SHORT_SIDE,
        diffusers_steps=STEPS,
        diffusers_device="cpu",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = SPECS["diffusers"].load(settings)
    pipe = engine.pipe  # type: ignore[attr-defined]  # the same loaded pipeline: only the wrapping differs
    image = textured_image(1280, 720)
    width, height = output_size(1280, 720, SHORT_SIDE)
    probe_job = RenderJob([image], "a cat walks slowly", DURATION, SHORT_SIDE, "auto", SEED, work / "p.mp4")
    plan = common.plan_render(probe_job, engine.family, settings)  # type: ignore[attr-defined]
    assert (plan.width, plan.height) == (width, height)

    engine_run(engine, image, work / "warm-engine.mp4")
    bare_run(pipe, image, plan, work / "warm-bare.mp4")
    engine_times, bare_times = [], []
    for index in range(args.runs):
        engine_times.append(engine_run(engine, image, work / f"engine-{index}.mp4"))
        bare_times.append(bare_run(pipe, image, plan, work / f"bare-{index}.mp4"))
    print(
        f"# diffusers engine vs bare pipeline call ({datetime.date.today()}, {platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.runs} runs each)"
    )
    print(
        f"tiny Wan 2.2 TI2V-5B, generation {plan.gen_width}x{plan.gen_height}, {plan.generated_frames} "
        f"frames, {STEPS} steps, CFG {plan.guidance}; output {width}x{height} {plan.frames} frames"
    )
    for label, column in (("wall", 0), ("cpu", 1)):
        engine_s = statistics.median(run[column] for run in engine_times)
        bare_s = statistics.median(run[column] for run in bare_times)
        fastest = min(run[column] for run in engine_times) / min(run[column] for run in bare_times)
        print(
            f"{label}: engine median {engine_s:.3f} s, bare median {bare_s:.3f} s; "
            f"ratio of medians {engine_s / bare_s:.3f}, of fastest runs {fastest:.3f} (goal <= 1.05)"
        )


if __name__ == "__main__":
    main()
