"""What a parallax move reveals behind its subject: the background's own texture, not a smear."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines.motion_support import layered_scene
from vidgate.engines.motion.parallax import fill_small_holes, mirror_fill, pure_colour, split_layers

# How far a high-amplitude move slides the subject off its own place, as a share of the short side.
REVEALED_SHARE = 0.06


def revealed_band(shape: np.ndarray) -> np.ndarray:
    """The part of the subject's place that shows once it has slid away by REVEALED_SHARE."""
    reach = max(3, round(REVEALED_SHARE * min(shape.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    return shape & (cv2.erode(shape.astype(np.uint8), kernel) == 0)


def band_scores(fill: np.ndarray, truth: np.ndarray, band: np.ndarray) -> tuple[float, float]:
    """(structure error in levels, gradient energy of the fill over the truth's) inside `band`.

    The error is taken after a blur (sigma 4 px): a texture carried in cannot match the true one
    grain for grain, but its colours and edges must; the energy says whether it is as sharp."""
    fill_f, truth_f = fill[..., :3].astype(np.float32), truth.astype(np.float32)
    blurred = np.abs(cv2.GaussianBlur(fill_f, (0, 0), 4.0) - cv2.GaussianBlur(truth_f, (0, 0), 4.0))

    def energy(image: np.ndarray) -> float:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
        return float((gx * gx + gy * gy)[band].mean())

    return float(blurred[band].mean()), energy(fill_f) / energy(truth_f)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_the_revealed_band_shows_the_background_sharp_and_in_its_colours(seed: int) -> None:
    """The engine's own split of a scene whose layers are known. Before (a Telea inpaint at the
    segmentation size, scaled up): energy 0.02-0.03 of the truth's, error 4-6 levels."""
    photo, truth, shape = layered_scene(320, 180, seed)
    layers = split_layers(photo)
    assert layers is not None
    band = revealed_band(shape)
    error, energy = band_scores(layers.background, truth, band)
    assert 0.6 < energy < 1.6  # as sharp as the truth, neither a smear nor a noise
    assert error < 10.0

    # The measure itself tells a smear apart: a diffusion fill of the same hole fails it.
    hole = cv2.dilate(shape.astype(np.uint8), np.ones((9, 9), np.uint8))
    smeared = cv2.inpaint(photo, hole * 255, 5, cv2.INPAINT_TELEA)
    assert band_scores(smeared, truth, band)[1] < 0.3


def test_the_split_has_no_halo_of_the_old_surroundings() -> None:
    """The subject's soft edge takes the subject's colour, so moved over other background it draws
    no outline of the sky and fields it stood on."""
    photo = layered_scene(320, 180, 5)[0]
    layers = split_layers(photo)
    assert layers is not None and layers.foreground is not None
    edge = (layers.alpha > 0.0) & (layers.alpha < 1.0)
    assert edge.any()
    # The tower is orange and pink; the sky is blue: no edge pixel of the foreground is bluer than red.
    colours = layers.foreground[edge].astype(int)
    assert (colours[:, 0] > colours[:, 2]).all()
    assert (
        (photo[edge].astype(int)[:, 2]) > photo[edge].astype(int)[:, 0]
    ).any()  # the photo's edge is mixed


def test_pure_colour_copies_the_nearest_solid_pixel_into_the_soft_edge() -> None:
    image = np.zeros((5, 7, 3), np.uint8)
    image[:, :3] = (200, 10, 10)  # the subject, on the left
    image[:, 3:] = (10, 10, 200)
    alpha = np.zeros((5, 7), np.float32)
    alpha[:, :3], alpha[:, 3] = 1.0, 0.5
    colours = pure_colour(image, alpha)
    assert (colours[:, 3] == (200, 10, 10)).all()
    assert np.array_equal(colours[:, 4:], image[:, 4:])  # where alpha is 0 nothing changes
    assert pure_colour(image, np.zeros_like(alpha)) is image  # no subject: nothing to unmix


def test_small_holes_in_a_subject_are_filled_and_real_gaps_kept() -> None:
    subject = np.zeros((40, 40), np.uint8)
    subject[5:35, 5:35] = 1
    subject[10:12, 10:30] = 0  # a stripe GrabCut took for sky: 40 px of a 900 px subject
    subject[15:33, 20:33] = 0  # an arch: 234 px, a real gap
    filled = fill_small_holes(subject)
    assert filled[10:12, 10:30].all()
    assert not filled[15:33, 20:33].any()
    edge_hole = subject.copy()
    edge_hole[5:35, 0:7] = 0  # open to the frame's side: outside, not a hole
    assert not fill_small_holes(edge_hole)[20, 0:5].any()


def test_mirror_fill_carries_the_rows_in_and_gives_up_without_room() -> None:
    ramp = np.tile(np.arange(20, dtype=np.uint8)[None, :, None] * 10, (6, 1, 3))
    hole = np.zeros((6, 20), np.uint8)
    hole[:, 8:12] = 1
    filled = mirror_fill(ramp, hole)
    assert filled is not None
    # Mirrored across each nearer edge: columns 8, 9 take 7, 6; columns 10, 11 take 13, 12.
    assert list(filled[0, 8:12, 0]) == [70, 60, 130, 120]
    assert np.array_equal(filled[:, :8], ramp[:, :8]) and np.array_equal(filled[:, 12:], ramp[:, 12:])
    assert mirror_fill(ramp, np.ones((6, 20), np.uint8)) is None  # nothing around to carry in
    wide = np.ones((6, 20), np.uint8)
    wide[0, 0] = 0  # one pixel left: most of the hole would be a streak of it
    assert mirror_fill(ramp, wide) is None
    assert np.array_equal(mirror_fill(ramp, np.zeros((6, 20), np.uint8)), ramp)  # type: ignore[arg-type]
