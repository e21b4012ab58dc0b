"""Where a picture's sky, water, foliage, fire and highlights are, for scene motion (scene.py).

Found by colour, texture and position on a small copy, as soft masks; docs/motion.md gives the rules.
"""

from __future__ import annotations

import cv2
import numpy as np

# Effects are computed on a grid this many times coarser than the frame, then scaled up: they are smooth.
GRID_STEP = 4
# Regions are found on a copy of the picture this long on its short side.
REGION_SHORT_SIDE = 144
# A region smaller than this share of the picture is not there: nothing moves.
MIN_REGION_SHARE = 0.01


def find_regions(picture: np.ndarray, wanted: set[str], alpha: np.ndarray | None) -> dict[str, np.ndarray]:
    """Soft masks (float32 0..1, at the picture's size / GRID_STEP) of the wanted regions present."""
    height, width = picture.shape[:2]
    grid = (max(2, round(width / GRID_STEP)), max(2, round(height / GRID_STEP)))
    factor = REGION_SHORT_SIDE / min(height, width)
    small_size = (max(8, round(width * factor)), max(8, round(height * factor)))
    small = cv2.resize(np.ascontiguousarray(picture[..., :3]), small_size, interpolation=cv2.INTER_AREA)
    hue, saturation, value = cv2.split(cv2.cvtColor(small, cv2.COLOR_RGB2HSV))  # hue 0..180
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    texture = cv2.GaussianBlur(np.abs(cv2.Laplacian(grey, cv2.CV_32F)), (0, 0), 2.0)
    rows = np.linspace(0.0, 1.0, small_size[1], dtype=np.float32)[:, None] * np.ones(
        (1, small_size[0]), np.float32
    )
    blue = (hue >= 85) & (hue <= 135) & (saturation > 35)
    masks: dict[str, np.ndarray] = {}
    sky = _touching_top((blue | ((saturation < 45) & (value > 160))) & (rows < 0.65) & (texture < 12))
    horizon = float(rows[sky].max()) if sky.any() else 0.4
    if "sky" in wanted:
        masks["sky"] = sky
    if "water" in wanted:
        masks["water"] = blue & (rows > max(horizon, 0.35)) & ~sky
    if "foliage" in wanted:
        masks["foliage"] = (hue >= 30) & (hue <= 90) & (saturation > 50) & (value > 30) & ~sky
    if "fire" in wanted:
        masks["fire"] = ((hue < 25) | (hue > 170)) & (saturation > 90) & (value > 170)
    if "highlights" in wanted:
        masks["highlights"] = value >= max(215.0, float(np.percentile(value, 99)))
    if "frame" in wanted:
        masks["frame"] = np.ones_like(sky)
    found = {}
    subject = None if alpha is None else cv2.resize(alpha, grid, interpolation=cv2.INTER_AREA)
    for name, mask in masks.items():
        if mask.mean() < MIN_REGION_SHARE:
            continue
        soft: np.ndarray = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)
        soft = cv2.resize(soft, grid, interpolation=cv2.INTER_LINEAR).astype(np.float32)
        if subject is not None and name != "frame":
            soft *= 1.0 - subject  # the subject does not ripple with the lake behind it
        found[name] = soft
    return found


def _touching_top(mask: np.ndarray) -> np.ndarray:
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    keep = np.unique(labels[0][labels[0] > 0])
    return np.isin(labels, keep) if count > 1 and keep.size else np.zeros_like(mask)
