"""Peak memory of a worker render from phone-sized photos: every decoded photo held at full size for
the whole render, against each shrunk as it is loaded (vidgate.worker.jobs.load_images).

Run: `.venv/bin/python benchmarks/input_memory.py`. Eight synthetic 4000x3000 photos (gradients and
grain, each a little different) are normalised and stored as a worker stores its inputs; each render
is a 1080p 10 s task in a fresh child process that loads them from the store as the worker does,
builds the job with `build_render_job` and renders it with the motion engine. Reported: wall and CPU
time (load, build, render), peak RSS (VmHWM) and the megabytes of decoded pixels handed to the engine.
"""

from __future__ import annotations

import datetime
import functools
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import photo_pixels, png

from vidgate.inputs.images import load_stored, normalise, store_image
from vidgate.settings import Settings
from vidgate.storage.local import LocalStore
from vidgate.tasks.model import TaskParams
from vidgate.worker.jobs import build_render_job, load_images

PHOTOS, PHOTO_SIZE = 8, (4000, 3000)
PROMPTS = {
    "default (no camera words)": ("a quiet harbour at dawn", "auto"),
    "stacked moves, high": ("quickly zoom in, pan left, orbit left, roll clockwise, handheld", "high"),
}


def make_store(root: Path) -> list[str]:
    """The photos, normalised and stored under their hashes, as the worker keeps its inputs."""
    store, base = LocalStore(root), photo_pixels(*PHOTO_SIZE)
    settings = Settings()
    refs = []
    for index in range(PHOTOS):
        pixels = np.roll(base, index * 97, axis=1) if index % 2 else base[::-1].copy()
        pixels = np.clip(pixels.astype(np.int16) + 8 * index, 0, 255).astype(np.uint8)
        data = normalise(png(pixels), index, settings.max_image_bytes, settings.max_image_pixels)
        refs.append(store_image(store, data, lambda _digest, _size: None))  # no database here
    return refs


def child_render(mode: str, prompt: str, amplitude: str, root: str, out: str, *refs: str) -> None:
    """Runs in a child process: load, build and render one task; print wall, CPU, peak RSS, input MB."""
    from vidgate.engines.motion import MotionEngine

    store, settings = LocalStore(Path(root)), Settings()
    params = TaskParams(list(refs), prompt, 10, "1080p", amplitude, 1)
    loaders = [functools.partial(load_stored, store, ref) for ref in refs]
    start = time.perf_counter()
    # "full", as before: every photo decoded at full size and kept for the whole render.
    images = [load() for load in loaders] if mode == "full" else load_images(params, loaders, "motion")
    held_mb = sum(image.nbytes for image in images) / 1e6
    job, _ = build_render_job(params, images, Path(out), settings, "motion")
    del images
    MotionEngine().render(job, lambda _: None, lambda: False)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # VmHWM: this process image's own high-water mark (ru_maxrss would carry the parent's over exec).
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(wall, usage.ru_utime + usage.ru_stime, peak_kib / 1024, held_mb)


def measure(mode: str, prompt: str, amplitude: str, root: Path, refs: list[str]) -> tuple[float, ...]:
    out = root / f"{mode}.mp4"
    command = [sys.executable, __file__, "--child", mode, prompt, amplitude, str(root), str(out), *refs]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return tuple(float(value) for value in done.stdout.split())


def main() -> None:
    print(f"{datetime.date.today()}, {PHOTOS} photos {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}, 1080p 10 s")
    with tempfile.TemporaryDirectory(prefix="vidgate-bench-") as folder:
        root = Path(folder)
        refs = make_store(root)
        header = ("prompt", "photos held", "wall s", "CPU s", "peak RSS MB", "pixels MB")
        print("{:28} {:18} {:>7} {:>7} {:>12} {:>10}".format(*header))
        for label, (prompt, amplitude) in PROMPTS.items():
            for mode, name in (("full", "full size (before)"), ("shrunk", "shrunk at load")):
                wall, cpu, peak, held = measure(mode, prompt, amplitude, root, refs)
                print(f"{label:28} {name:18} {wall:7.2f} {cpu:7.2f} {peak:12.0f} {held:10.0f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_render(*sys.argv[2:])
    else:
        main()
