"""Render time with and without sound and marks: a 5 s 720p video from one 1280x720 photo, through
the worker's path (soundtrack built on the CPU, then the motion engine, which muxes it).
Run: `.venv/bin/python benchmarks/sound.py`.

Reports, per variant, medians over ROUNDS renders in this process (after one warm-up render, so
imports and first-call costs are left out): wall time; CPU time of all the process's threads (less
sensitive than wall time to other load on a shared machine); the extra over the silent render of the
same round (rounds interleave the variants, so a busy machine slows all of them alike); the
soundtrack's share; and the output's measured loudness and true peak.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pyloudnorm
from common import photo_pixels
from scipy import signal

from vidgate.engines.base import RenderJob
from vidgate.engines.motion import MotionEngine
from vidgate.media.audio.soundtrack import SoundOptions, build_soundtrack
from vidgate.media.watermark import Watermark, provenance_tags

ROUNDS = 5
PROMPT = 'Slow zoom in on a rainy city street at night. She says: "We should go home before the storm."'
VARIANTS: dict[str, dict[str, bool]] = {
    "silent, no watermark": {},
    "watermark": {"watermark": True},
    "bgm": {"bgm": True},
    "audio (speech + ambience)": {"audio": True},
    "bgm + audio + watermark": {"bgm": True, "audio": True, "watermark": True},
}


def render(image: np.ndarray, output: Path, flags: dict[str, bool]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, soundtrack wall seconds) for one render."""
    started, cpu_started = time.perf_counter(), time.process_time()
    soundtrack = build_soundtrack(
        PROMPT,
        5,
        1,
        1,
        bgm=flags.get("bgm", False),
        audio=flags.get("audio", False),
        voice_id=None,
        options=SoundOptions(),
    )
    sound_s = time.perf_counter() - started
    job = RenderJob(
        images=[image],
        prompt=PROMPT,
        duration=5,
        short_side=720,
        movement_amplitude="auto",
        seed=1,
        output_path=output,
        audio=soundtrack.samples if soundtrack else None,
        frame_filter=Watermark() if flags.get("watermark") else None,
        metadata=provenance_tags("motion", 1),
    )
    MotionEngine().render(job, lambda _f: None, lambda: False)
    return time.perf_counter() - started, time.process_time() - cpu_started, sound_s


def measured_sound(path: Path) -> str:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return "no audio stream"
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]
    samples = np.concatenate(chunks, axis=1).T.astype(np.float64)[: 5 * 48_000]
    lufs = pyloudnorm.Meter(48_000).integrated_loudness(samples)
    peak = 20 * np.log10(np.max(np.abs(signal.resample_poly(samples, 4, 1, axis=0))))
    return f"{lufs:.1f} LUFS, {peak:.1f} dBTP"


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; commit {commit.strip()}"


def main() -> None:
    image = photo_pixels()
    work = Path(tempfile.mkdtemp(prefix="vidgate-sound-bench-"))
    render(image, work / "warmup.mp4", VARIANTS["bgm + audio + watermark"])
    print(machine())
    print("| variant | wall (s) | extra wall (s) | CPU (s) | extra CPU (s) | soundtrack (s) | output audio |")
    print("|---|---|---|---|---|---|---|")
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in VARIANTS}
    sound: dict[str, str] = {}
    for _round in range(ROUNDS):
        for name, flags in VARIANTS.items():
            output = work / "out.mp4"
            times[name].append(render(image, output, flags))
            sound[name] = measured_sound(output)
            output.unlink()
    silent = times["silent, no watermark"]
    for name, runs in times.items():
        wall, cpu, soundtrack = (statistics.median(r[i] for r in runs) for i in range(3))
        extra_wall = statistics.median(r[0] - base[0] for r, base in zip(runs, silent, strict=True))
        extra_cpu = statistics.median(r[1] - base[1] for r, base in zip(runs, silent, strict=True))
        print(
            f"| {name} | {wall:.2f} | {extra_wall:+.2f} | {cpu:.2f} | {extra_cpu:+.2f} | {soundtrack:.2f} "
            f"| {sound[name]} |"
        )


if __name__ == "__main__":
    main()
