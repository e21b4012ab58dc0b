"""The motion engine against ffmpeg's zoompan and MoviePy, in one run, on one machine.

Run: `make bench` (or `.venv/bin/python benchmarks/motion.py`; add `--whole-process` for the first rows
alone). Same photo (made here: sky, clouds, hills, a lit stone on a plinth, film grain), same move (a
centred zoom-in x1.15 over 5 s with vidgate's easing curve, 720p24), same encoder settings (libx264,
vidgate's `balanced` preset and CRF, mbtree off, 2 threads, yuv420p):

- whole process: `vidgate generate --quality fast` (start-up, reading the PNG, render, encode, exit)
  against the ffmpeg binary's zoompan at the same x264 preset (veryfast, CRF 23), and once more with
  scene motion; medians of 7 interleaved runs, the commands printed. This is the bar users feel.
- wall time: vidgate render+encode vs `ffmpeg -vf zoompan` + libx264 (the imageio-ffmpeg binary)
  vs MoviePy 2 resizing the photo every frame; medians of interleaved runs, and CPU time. MoviePy
  once more from a phone-sized photo (4000x2250), which vidgate shrinks once and MoviePy every frame.
- the floor: x264 alone, encoding vidgate's frames rendered beforehand. No renderer using these
  encoder settings can finish faster, so MoviePy / floor is the largest ratio to MoviePy possible.
  zoompan gets its own floor (the ffmpeg binary encoding zoompan's frames, rendered beforehand to
  raw yuv420p), so each contender's render overhead shows against its own encoder, and the two
  floors show what is left when rendering costs nothing.
- jitter: each output is decoded and its camera path tracked against the photo
  (vidgate.engines.motion.tracking): largest second difference of centre and width, and steps
  against the direction of travel.
- 1080p 10 s: wall time and peak RSS (VmHWM) of a render in a fresh child process.

MoviePy 2 pins Pillow < 12 and vidgate needs Pillow >= 13, so MoviePy cannot share the venv: it is
installed once with pip into var/bench/moviepy and run in a child process with that folder first on
its path. Without network the MoviePy row says so and the rest still runs.

On a machine shared with other work, run it at a raised priority (`nice -n -10`, which both
contenders inherit): the load of others otherwise swings single runs by +-50 %.
"""

from __future__ import annotations

import datetime
import itertools
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np

from vidgate.engines.base import RenderJob
from vidgate.engines.motion import MotionEngine
from vidgate.engines.motion.camera import AMPLITUDES, plan_camera
from vidgate.engines.motion.frames import FramePlan, generate_frames
from vidgate.engines.motion.scene import plan_scene
from vidgate.engines.motion.tracking import jitter, track_camera
from vidgate.media.colour import YuvFrame, yuv_to_rgb
from vidgate.media.encode import X264_PARAMS, X264_SETTINGS, VideoEncoder

ROOT = Path(__file__).resolve().parent.parent
MOVIEPY_DIR = ROOT / "var" / "bench" / "moviepy"
MOVIEPY_VERSION = "2.2.1"
RUNS = 5
WIDTH, HEIGHT, FPS, DURATION = 1280, 720, 24, 5
BIG_PHOTO = (4000, 2250)  # a phone photo's size, for the MoviePy comparison's second row
ZOOM = AMPLITUDES["medium"].zoom  # what vidgate's "zoom in" does at the default level
PRESET, CRF = X264_SETTINGS["balanced"]
# vidgate's ease_in_out(t) = 0.35 t + 0.65 smoothstep(t), as an ffmpeg expression of t.
EASE = "(0.35*{t}+0.65*{t}*{t}*(3-2*{t}))"


def fractal_noise(rng: np.random.Generator, width: int, height: int, cells: int, octaves: int) -> np.ndarray:
    total, norm, amplitude = np.zeros((height, width), np.float32), 0.0, 1.0
    for octave in range(octaves):
        count = cells * 2**octave
        grid = rng.random((max(2, count * height // width + 1), count + 1)).astype(np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        norm += amplitude
        amplitude *= 0.6
    return total / norm


def make_photo(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A landscape with a subject, detail at every scale and grain, like a real photo to x264."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    v = ys / height
    sky = np.dstack([70 + 120 * v, 120 + 100 * v, 200 + 40 * v])
    sky += (np.clip(fractal_noise(rng, width, height, 4, 6) - 0.45, 0, 1) * 260)[..., None]
    ridge = 0.58 - 0.12 * fractal_noise(rng, width, 1, 2, 5)[0]
    grass = fractal_noise(rng, width, height, 8, 7)
    ground = np.dstack([60 + 90 * grass, 95 + 90 * grass + 30 * v, 40 + 40 * grass])
    image = np.where((v > ridge[None, :])[..., None], ground, sky)
    cx, cy, radius = 0.47 * width, 0.55 * height, 0.2 * height
    distance = np.hypot(xs - cx, ys - cy) / radius
    light = np.sqrt(np.clip(1 - distance, 0, 1)) * np.clip(
        1.2 - np.hypot(xs - cx + 0.4 * radius, ys - cy + 0.4 * radius) / (1.6 * radius), 0.2, 1
    )
    stone = fractal_noise(rng, width, height, 16, 5)
    image = np.where(
        (distance < 1)[..., None],
        np.dstack([200 * light + 40 * stone, 80 * light + 30 * stone, 50 * light]),
        image,
    )
    plinth = (np.abs(xs - cx) < 0.55 * radius) & (ys > cy + 0.8 * radius)
    image = np.where(plinth[..., None], np.dstack([110 + 40 * stone] * 3) - [0, 5, 10], image)
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.7) + rng.normal(0, 4, (height, width, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_lighthouse(width: int, height: int, seed: int = 3) -> np.ndarray:
    """A striped lighthouse on rocks before mountains and a lake, under clouds (issue 15's example)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    v = ys / height
    sky = np.dstack([110 + 90 * v, 150 + 70 * v, 215 + 30 * v])
    sky += (np.clip(fractal_noise(rng, width, height, 3, 6) - 0.5, 0, 1) * 300)[..., None]
    ridge = 0.30 + 0.16 * fractal_noise(rng, width, 1, 3, 6)[0]
    rock = fractal_noise(rng, width, height, 24, 6)
    mountains = np.dstack([70 + 80 * rock, 80 + 70 * rock, 95 + 70 * rock]) - 40 * (v - 0.3)[..., None]
    image = np.where((v > ridge[None, :])[..., None], mountains, sky)
    ripples = fractal_noise(rng, width, height, 40, 3)
    lake = np.dstack([40 + 50 * ripples, 90 + 60 * ripples, 140 + 60 * ripples])
    image = np.where((v > 0.62)[..., None], lake, image)
    centre, half = 0.5 * width, (0.035 + 0.025 * (v - 0.2)) * width
    tower = (np.abs(xs - centre) < half) & (v > 0.2) & (v < 0.85)
    stripes = (np.floor((v - 0.2) / 0.09) % 2)[..., None]
    shade = np.clip(1.0 - 0.6 * np.abs(xs - centre) / np.maximum(half, 1), 0.4, 1)[..., None]
    paint = (stripes * [235, 235, 228] + (1 - stripes) * [200, 40, 35]) * shade
    image = np.where(tower[..., None], paint, image)
    lantern = (np.abs(xs - centre) < 0.03 * width) & (v > 0.14) & (v <= 0.2)
    image = np.where(lantern[..., None], np.array([250, 220, 120]), image)
    rocks = (v > 0.8) & (np.abs(xs - centre) < (0.16 - 0.3 * (v - 0.8)) * width * 1.5)
    image = np.where(rocks[..., None], np.dstack([60 + 70 * rock] * 3), image)
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.8) + rng.normal(0, 3, (height, width, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def montage_frames(out_dir: Path) -> None:
    """Frames for docs/motion.md: issue 15's dolly (first and last frame) from this code, as PNGs."""
    photo = make_lighthouse(960, 540)
    move = plan_camera("dolly in fast toward the lighthouse", "high", np.random.default_rng(3), 5)
    plan = FramePlan([photo], move, 960, 540, 120, FPS)
    for index, frame in enumerate(generate_frames(plan, lambda _: None, lambda: False)):
        if index in (0, 119):
            write_png(out_dir / f"dolly-{index}.png", yuv_to_rgb(frame.pixels))
    if not hasattr(FramePlan, "scene"):  # run against code from before scene motion, for the "before" row
        return
    # Scene motion on a still camera: one frame of each, and where the lake and sky move (flow).
    small = cv2.resize(photo, (480, 270), interpolation=cv2.INTER_AREA)
    for name, prompt in (
        ("water", "static shot, a rippling lake under drifting clouds"),
        ("rain", "static shot, heavy rain"),
        ("snow", "static shot, snow falling"),
        ("fog", "static shot, fog drifting"),
    ):
        move = plan_camera(prompt, "high", np.random.default_rng(1), 1)
        plan = FramePlan([small], move, 480, 270, 24, FPS, scene=plan_scene(prompt, move.level, 1))
        frames = [yuv_to_rgb(frame.pixels) for frame in generate_frames(plan, lambda _: None, lambda: False)]
        write_png(out_dir / f"scene-{name}.png", frames[12])
        if name == "water":
            flow = cv2.DISOpticalFlow.create(cv2.DISOpticalFlow_PRESET_MEDIUM)
            grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
            total = sum(
                np.hypot(*flow.calc(a, b, None).transpose(2, 0, 1)) for a, b in itertools.pairwise(grey)
            )
            heat = np.clip(total / (len(grey) - 1) * 400, 0, 255).astype(np.uint8)
            write_png(
                out_dir / "scene-water-flow.png", cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO)[..., ::-1]
            )


def write_png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_vidgate(photo: np.ndarray, prompt: str, out: Path) -> tuple[float, float]:
    """(wall s, cpu s) of one render in this process: 5 s 720p24, the default level and quality."""
    job = RenderJob(
        images=[photo],
        prompt=prompt,
        duration=DURATION,
        short_side=HEIGHT,
        movement_amplitude="medium",
        seed=1,
        output_path=out,
    )
    cpu, start = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    MotionEngine().render(job, lambda _: None, lambda: False)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu


def render_only(photo: np.ndarray, prompt: str) -> list[YuvFrame]:
    """The frames of the vidgate run, rendered without encoding (held in memory: ~330 MB at 720p)."""
    move = plan_camera(prompt, "medium", np.random.default_rng(1), DURATION)
    plan = FramePlan([photo], move, WIDTH, HEIGHT, FPS * DURATION, FPS)
    frames = generate_frames(plan, lambda _: None, lambda: False)
    return [YuvFrame(frame.pixels[..., :3].copy()) for frame in frames]


def run_encoder_only(frames: list[YuvFrame], out: Path) -> tuple[float, float]:
    """(wall s, cpu s) of x264 alone on frames rendered beforehand, with vidgate's encoder and settings."""
    cpu, start = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    with VideoEncoder(out, WIDTH, HEIGHT, fps=FPS) as encoder:
        for frame in frames:
            encoder.write(frame)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu


def zoompan_filter() -> str:
    frames = FPS * DURATION
    t = f"(on/{frames - 1})"
    zoom = f"exp(log({ZOOM})*{EASE.format(t=t)})"
    return f"zoompan=z='{zoom}':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d={frames}:s={WIDTH}x{HEIGHT}:fps={FPS}"


X264_ARGUMENTS = [
    "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-x264-params", X264_PARAMS, "-threads", "2",
    "-pix_fmt", "yuv420p",
]  # fmt: skip


def run_ffmpeg(arguments: list[str]) -> tuple[float, float]:
    """(wall s, cpu s) of one run of the imageio-ffmpeg binary."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *arguments]
    cpu, start = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def run_zoompan(photo_png: Path, out: Path) -> tuple[float, float]:
    frames = str(FPS * DURATION)
    return run_ffmpeg(
        ["-i", str(photo_png), "-vf", zoompan_filter(), "-frames:v", frames, *X264_ARGUMENTS, str(out)]
    )


def zoompan_raw_frames(photo_png: Path, out: Path) -> Path:
    """zoompan's frames, rendered beforehand to a raw yuv420p file (its encoder's own floor)."""
    frames = str(FPS * DURATION)
    filters = zoompan_filter() + ",format=yuv420p"
    run_ffmpeg(["-i", str(photo_png), "-vf", filters, "-frames:v", frames, "-f", "rawvideo", str(out)])
    return out


def run_ffmpeg_encoder_only(raw: Path, out: Path) -> tuple[float, float]:
    """(wall s, cpu s) of the ffmpeg binary's x264 alone on zoompan's frames rendered beforehand."""
    source = [
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-s",
        f"{WIDTH}x{HEIGHT}",
        "-r",
        str(FPS),
        "-i",
        str(raw),
    ]
    return run_ffmpeg([*source, *X264_ARGUMENTS, str(out)])


MOVIEPY_SCRIPT = """
import math, sys, time
from moviepy import CompositeVideoClip, ImageClip
photo, out, zoom, duration, fps, width, height, preset, crf, params = sys.argv[1:]
duration, fps, zoom = int(duration), int(fps), float(zoom)
last = duration - 1 / fps
def scale(t):
    p = min(1.0, t / last)
    return math.exp(math.log(zoom) * (0.35 * p + 0.65 * p * p * (3 - 2 * p)))
start = time.perf_counter()
clip = ImageClip(photo).with_duration(duration).resized(scale).with_position("center")
video = CompositeVideoClip([clip], size=(int(width), int(height))).with_duration(duration)
video.write_videofile(out, fps=fps, codec="libx264", preset=preset, threads=2, audio=False, logger=None,
                      pixel_format="yuv420p", ffmpeg_params=["-crf", crf, "-x264-params", params])
print(time.perf_counter() - start)
"""


def run_moviepy(photo_png: Path, out: Path) -> float | str:
    if not (MOVIEPY_DIR / "moviepy").is_dir():
        install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(MOVIEPY_DIR)]
        done = subprocess.run([*install, f"moviepy=={MOVIEPY_VERSION}"], capture_output=True, text=True)
        if done.returncode != 0:
            return "not installed (pip failed)"
    env = os.environ | {"PYTHONPATH": str(MOVIEPY_DIR)}
    arguments = [str(photo_png), str(out), str(ZOOM), str(DURATION), str(FPS), str(WIDTH), str(HEIGHT)]
    command = [sys.executable, "-c", MOVIEPY_SCRIPT, *arguments, PRESET, str(CRF), X264_PARAMS]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return "failed: " + done.stderr.strip().splitlines()[-1]
    return float(done.stdout.strip().splitlines()[-1])


def seconds(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:9.2f}"


def decoded(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


WHOLE_RUNS = 7
# The scene-motion row: the same zoom, with the photo's sky and grass moving (about 85 % of the frame).
SCENE_PROMPT = "zoom in, clouds drifting over swaying grass"


def whole_process_commands(photo_png: Path, work: Path, prompt: str) -> tuple[list[str], list[str]]:
    """(vidgate generate, ffmpeg zoompan): each a whole process, as a user runs it, at x264 veryfast
    CRF 23 (vidgate's `fast` quality), from the PNG on disk to the MP4."""
    vidgate = Path(sys.executable).parent / "vidgate"
    generate = [
        str(vidgate), "generate", str(photo_png), "--prompt", prompt, "-o", str(work / "whole-vidgate.mp4"),
        "--quality", "fast", "--seed", "1", "--movement-amplitude", "medium",
    ]  # fmt: skip
    preset, crf = X264_SETTINGS["fast"]
    zoompan = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-i", str(photo_png), "-vf", zoompan_filter(),
        "-frames:v", str(FPS * DURATION), "-c:v", "libx264", "-preset", preset, "-crf", str(crf),
        "-x264-params", X264_PARAMS, "-threads", "2", "-pix_fmt", "yuv420p", str(work / "whole-zoompan.mp4"),
    ]  # fmt: skip
    return generate, zoompan


def run_process(command: list[str]) -> tuple[float, float]:
    """(wall s, cpu s) of one whole process, start to exit."""
    cpu, start = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu


def whole_process(photo_png: Path, work: Path) -> None:
    """The whole-process rows: `vidgate generate` against the ffmpeg binary, interleaved."""
    generate, zoompan = whole_process_commands(photo_png, work, "zoom in")
    scene = whole_process_commands(photo_png, work, SCENE_PROMPT)[0]
    rows = {"generate": generate, "scene": scene, "zoompan": zoompan}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for command in rows.values():  # warm the page cache and the .pyc files first
        run_process(command)
    for _ in range(WHOLE_RUNS):
        for name, command in rows.items():
            times[name].append(run_process(command))

    def median(name: str, index: int = 0) -> float:
        return statistics.median(sample[index] for sample in times[name])

    print(f"\n{f'whole process, {WHOLE_RUNS} interleaved runs':44} {'median s':>9} {'min s':>7} {'cpu s':>7}")
    for name, label in (
        ("generate", "vidgate generate --quality fast, zoom in"),
        ("scene", "the same, with scene motion"),
        ("zoompan", "ffmpeg zoompan, -preset veryfast"),
    ):
        fastest = min(wall for wall, _ in times[name])
        print(f"{label:44} {median(name):9.2f} {fastest:7.2f} {median(name, 1):7.2f}")
    base = median("zoompan")
    print(
        f"whole process / zoompan, by medians: generate {median('generate') / base:.2f} (target <= 1.0), "
        f"with scene motion {median('scene') / base:.2f} (target <= 1.3); "
        f"by CPU: {median('generate', 1) / median('zoompan', 1):.2f}, "
        f"{median('scene', 1) / median('zoompan', 1):.2f}"
    )
    for label, command in (("vidgate", generate), ("scene", scene), ("zoompan", zoompan)):
        print(f"  {label}: {shlex.join(command)}")


def child_render(short_side: int, duration: int, prompt: str, out: str, *photos: str) -> None:
    """Runs in a child process: render one job from PNG files, print wall time and peak RSS."""
    images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in photos]
    job = RenderJob(images, prompt, duration, short_side, "medium", 1, Path(out))
    start = time.perf_counter()
    MotionEngine().render(job, lambda _: None, lambda: False)
    wall = time.perf_counter() - start
    # VmHWM is this process image's own high-water mark. (ru_maxrss from wait4 would not do: Linux
    # carries the pre-exec maximum over exec, so a child forked from a big parent inherits its peak.)
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(wall, peak_kib / 1024)


def measure_child(prompt: str, out: Path, photos: list[Path]) -> tuple[float, float]:
    """(wall s, peak RSS MB) of a 1080p 10 s render in a fresh process."""
    command = [sys.executable, __file__, "--child", "1080", "10", prompt, str(out), *map(str, photos)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall, peak = done.stdout.split()
    return float(wall), float(peak)


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="vidgate-motion-bench-"))
    photo = make_photo(WIDTH, HEIGHT)
    photo_png = work / "photo.png"
    write_png(photo_png, photo)
    print(f"vidgate motion benchmark, {datetime.date.today()}, commit {commit()}")
    print(f"machine: {machine()}; load average {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    print(
        f"move: centred zoom-in x{ZOOM} eased, {DURATION} s {HEIGHT}p{FPS} from a {WIDTH}x{HEIGHT} photo; "
        f"x264 {PRESET} crf {CRF} {X264_PARAMS} threads 2 yuv420p\n"
    )

    whole_process(photo_png, work)  # first: the row the bar is about, before the long runs warm the CPU
    if "--whole-process" in sys.argv:
        shutil.rmtree(work, ignore_errors=True)
        return

    names = ("vidgate", "zoompan", "parallax", "x264", "zoompan-x264")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    rendered = render_only(photo, "zoom in")
    zoompan_frames = zoompan_raw_frames(photo_png, work / "zoompan.yuv")
    for run in range(RUNS):  # interleaved, so that a busy moment hurts all alike
        times["vidgate"].append(run_vidgate(photo, "zoom in", work / f"vidgate-{run}.mp4"))
        times["zoompan"].append(run_zoompan(photo_png, work / f"zoompan-{run}.mp4"))
        times["parallax"].append(run_vidgate(photo, "push in", work / f"parallax-{run}.mp4"))
        times["x264"].append(run_encoder_only(rendered, work / f"x264-{run}.mp4"))
        times["zoompan-x264"].append(
            run_ffmpeg_encoder_only(zoompan_frames, work / f"zoompan-x264-{run}.mp4")
        )
    del rendered
    moviepy = run_moviepy(photo_png, work / "moviepy.mp4")
    # The same move from a phone-sized photo: vidgate shrinks it once, MoviePy resizes it every frame.
    big_photo = make_photo(*BIG_PHOTO)
    big_png = work / "photo-big.png"
    write_png(big_png, big_photo)
    times["vidgate-big"] = [run_vidgate(big_photo, "zoom in", work / f"big-{run}.mp4") for run in range(3)]
    moviepy_big = run_moviepy(big_png, work / "moviepy-big.mp4")

    def median(name: str, index: int = 0) -> float:
        return statistics.median(sample[index] for sample in times[name])

    def fastest(name: str) -> float:
        return min(wall for wall, _ in times[name])

    vidgate_s, zoompan_s = median("vidgate"), median("zoompan")
    print(f"{'5 s 720p24, ' + str(RUNS) + ' interleaved runs':44} {'median s':>9} {'min s':>7} {'cpu s':>7}")
    for name, label in (  # cpu: user + system time of the process (and ffmpeg's, for zoompan)
        ("vidgate", "vidgate zoom in"),
        ("zoompan", "ffmpeg zoompan + libx264"),
        ("parallax", "vidgate push in (parallax on, for reference)"),
        ("x264", "x264 alone, vidgate's frames rendered before"),
        ("zoompan-x264", "x264 alone, zoompan's frames rendered before"),
    ):
        print(f"{label:44} {median(name):9.2f} {fastest(name):7.2f} {median(name, 1):7.2f}")
    print(f"{'MoviePy 2 (resized every frame, one run)':44} {seconds(moviepy)}")
    big = f"from a {BIG_PHOTO[0]}x{BIG_PHOTO[1]} photo"
    print(f"{'vidgate zoom in, ' + big:44} {median('vidgate-big'):9.2f} {fastest('vidgate-big'):7.2f}")
    print(f"{'MoviePy 2, ' + big:44} {seconds(moviepy_big)}")
    print(
        f"\nvidgate / ffmpeg zoompan: {vidgate_s / zoompan_s:.2f} by medians, "
        f"{fastest('vidgate') / fastest('zoompan'):.2f} by fastest runs (target <= 1.0)"
    )
    # Each contender against its own encoder on its own frames: what rendering adds on top of x264.
    print(
        f"over its own x264 alone, by medians: vidgate {vidgate_s / median('x264'):.2f}, "
        f"zoompan {zoompan_s / median('zoompan-x264'):.2f}; "
        f"x264 alone, vidgate's frames / zoompan's: {median('x264') / median('zoompan-x264'):.2f}"
    )
    if isinstance(moviepy, float) and isinstance(moviepy_big, float):
        print(
            f"MoviePy / vidgate: {moviepy / vidgate_s:.1f} (target >= 10); "
            f"{big}: {moviepy_big / median('vidgate-big'):.1f}; "
            f"the most any renderer could reach with these encoder settings, MoviePy / x264 alone: "
            f"{moviepy / median('x264'):.1f}"
        )

    print(f"\n{'jitter, tracked from the decoded video':44} {'max d2 px/frame2':>17} {'backward steps':>15}")
    for name, label in (("vidgate", "vidgate zoom in"), ("zoompan", "ffmpeg zoompan")):
        measured = jitter(track_camera(decoded(work / f"{name}-0.mp4"), photo))
        print(f"{label:44} {measured.max_second_difference:17.3f} {measured.backward_steps:15d}")

    big_photos = [work / f"photo-1080-{seed}.png" for seed in (7, 8, 9)]
    for seed, path in zip((7, 8, 9), big_photos, strict=True):
        write_png(path, make_photo(1920, 1080, seed))
    print(f"\n{'1080p 10 s, child process':44} {'wall s':>8} {'peak RSS MB':>12}")
    cases = [
        ("zoom in, 1 photo", "zoom in", big_photos[:1]),
        ("push in + parallax + morph, 3 photos", "push in, morph", big_photos),
        (
            "push in + scene motion (sky, grass, rain)",
            "push in, clouds drifting, grass swaying, rain",
            big_photos[:1],
        ),
    ]
    for label, prompt, photos in cases:
        wall, peak = measure_child(prompt, work / "big.mp4", photos)
        print(f"{label:44} {wall:8.2f} {peak:12.0f}")
    print(f"\nload average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--montage":
        montage_frames(Path(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child":
        short_side, duration, prompt, out, *photos = sys.argv[2:]
        child_render(int(short_side), int(duration), prompt, out, *photos)
    else:
        main()
