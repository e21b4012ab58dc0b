"""`load_images`: each input shrunk as it is read to what the motion engine samples of it, and no less."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidgate.engines.base import output_size
from vidgate.engines.motion import MotionEngine, frames
from vidgate.engines.motion.camera import CameraPose
from vidgate.engines.motion.render import FittedImage, fit_image
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams
from vidgate.worker.jobs import build_render_job, load_images


def params(prompt: str = "a quiet harbour at dawn", amplitude: str = "auto", **changes: Any) -> TaskParams:
    fields: dict[str, Any] = {"duration": 1, "resolution": "540p", "seed": 1} | changes
    return TaskParams([], prompt, movement_amplitude=amplitude, **fields)


def photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Gradients and a coarse texture, made directly (encoding big test PNGs would take seconds)."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(0, 200, width), np.linspace(0, 150, height))
    texture = rng.integers(0, 40, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    texture = texture.repeat(8, axis=0).repeat(8, axis=1)[:height, :width]
    return np.stack([x, y, (x + y) / 2], axis=-1).astype(np.uint8) + texture


def loaders(images: Sequence[np.ndarray]) -> list[Any]:
    return [lambda image=image: image for image in images]


@pytest.mark.parametrize(
    ("prompt", "amplitude"),
    [
        ("a quiet harbour at dawn", "auto"),  # the default push-in with parallax
        ("slowly zoom out, crossfade", "medium"),
        ("quickly zoom in, pan left, orbit left, roll clockwise, handheld, match cut", "high"),
        ("locked off shot", "high"),
    ],
)
def test_the_engine_never_enlarges_what_it_did_not_and_keeps_its_resolution(
    prompt: str, amplitude: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendered through the engine: for every image, the resolution the engine works from and the
    scale of its sharpest view are those it reaches from the full-size photo."""
    task = params(prompt, amplitude)
    originals = [photo(1600, 1200, 0), photo(1200, 1600, 1), photo(2400, 1000, 2)]

    def fitted(images: list[np.ndarray], name: str) -> list[tuple[tuple[int, int], float]]:
        seen: list[tuple[tuple[int, int], float]] = []

        def recording(
            image: np.ndarray,
            out_w: int,
            out_h: int,
            poses: Sequence[CameraPose],
            sharpest: float | None = None,
        ) -> FittedImage:
            fit = fit_image(image, out_w, out_h, poses, sharpest)
            closest = max(max(pose.zoom for pose in poses), sharpest or 0.0)
            picture = fit.levels[0]
            enlargement = out_w * closest / (fit.window_w * picture.scale_x)  # > 1: upsampled
            seen.append((picture.pixels.shape[1::-1], enlargement))
            return fit

        monkeypatch.setattr(frames, "fit_image", recording)
        # GrabCut costs seconds here and does not change the fit (the foreground's zoom does).
        monkeypatch.setattr(frames, "split_layers", lambda _pixels: None)
        job, _ = build_render_job(task, images, tmp_path / name, Settings(), "motion")
        MotionEngine().render(job, lambda _: None, lambda: False)
        return seen

    shrunk = load_images(task, loaders(originals), MotionEngine())
    before, after = fitted(originals, "before.mp4"), fitted(shrunk, "after.mp4")
    assert len(before) == len(after) == 3
    for (size_before, enlarged_before), (size_after, enlarged_after) in zip(before, after, strict=True):
        assert enlarged_after <= max(1.0, enlarged_before) + 1e-9
        assert abs(size_after[0] - size_before[0]) <= 4 and abs(size_after[1] - size_before[1]) <= 4
    assert sum(a.nbytes for a in shrunk) < 0.7 * sum(b.nbytes for b in originals)


def test_images_the_engine_would_not_shrink_are_kept_as_they_are() -> None:
    small = [photo(720, 540), photo(640, 360)]  # at or below 540p: the engine samples all of them
    assert all(
        a is b for a, b in zip(load_images(params(), loaders(small), MotionEngine()), small, strict=True)
    )


class _ReadsWhole:
    """An engine without the `ShrinksInputs` capability."""

    name = "whole"

    def render(self, *_args: object) -> None:
        raise AssertionError("not rendered here")


def test_other_engines_get_the_images_as_read() -> None:
    big = [photo(1600, 1200)]
    assert load_images(params(), loaders(big), _ReadsWhole())[0] is big[0]


def test_a_large_image_is_shrunk_only_to_what_its_views_need() -> None:
    (image,) = load_images(params("zoom in", "high"), loaders([photo(3200, 2400)]), MotionEngine())
    # 720x540 output; a zoom-in x1.3 keeps 1.3x that (702x936), rounded up as the engine rounds.
    assert image.shape == (703, 937, 3)


def test_shrinking_is_deterministic() -> None:
    originals = [photo(1600, 1200, seed) for seed in range(3)]
    first = load_images(params(seed=7), loaders(originals), MotionEngine())
    second = load_images(params(seed=7), loaders(originals), MotionEngine())
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("size", [(2001, 1335), (1999, 1125), (3001, 751), (1335, 2001), (1777, 1000)])
def test_the_first_image_keeps_the_video_size(size: tuple[int, int]) -> None:
    """The engine takes the video's aspect ratio from the first image, rounded to even pixels: its
    shrunk copy may not round the other way."""
    width, height = size
    task = params("push in", "medium")
    (image,) = load_images(task, loaders([np.zeros((height, width, 3), np.uint8)]), MotionEngine())
    assert image.shape[0] < height
    assert output_size(image.shape[1], image.shape[0], 540) == output_size(width, height, 540)


def test_each_full_size_image_is_let_go_before_the_next_is_read() -> None:
    read: list[weakref.ref[np.ndarray]] = []
    alive_at_each_read: list[int] = []

    def load(seed: int) -> np.ndarray:
        alive_at_each_read.append(sum(ref() is not None for ref in read))
        image = photo(2400, 1800, seed)
        read.append(weakref.ref(image))
        return image

    images = load_images(params(), [lambda seed=seed: load(seed) for seed in range(3)], MotionEngine())
    assert alive_at_each_read == [0, 0, 0]
    assert all(image.shape[0] < 1800 for image in images)
