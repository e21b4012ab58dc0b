"""Marks that say a video is machine-made: a visible watermark, and provenance tags in the MP4.

The watermark ("AI generated" and a small sparkle glyph by default, or an image of the operator's) is
drawn once per frame size into an RGBA overlay, antialiased (Pillow's text rendering, the glyph drawn
at 4x and downsampled), with a soft shadow so that it reads on bright and dark pictures alike. Each
frame then only blends the overlay's small rectangle: a few hundred microseconds at 1080p, and the
same pixels on every frame, so the mark never shimmers. Frames in YUV (media/colour.py) get the
same blend with the overlay's colours converted, which gives the same picture: the conversion is
affine, and an alpha blend is a weighted mean.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from vidgate.media.colour import Frame, YuvFrame, rgb_colour_to_yuv

if TYPE_CHECKING:
    from vidgate.settings import Settings

Position = Literal["bottom-right", "bottom-left", "top-right", "top-left"]

# IPTC's term for media made by a trained model (used by C2PA and the major platforms' AI labels).
IPTC_TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SUPERSAMPLE = 4


def provenance_tags(engine: str, seed: int) -> dict[str, str]:
    """MP4 metadata carried by every output, watermarked or not."""
    return {
        "comment": f"AI-generated video, made by vidgate (engine {engine}, seed {seed}).",
        "ai_generated": "true",
        "digital_source_type": IPTC_TRAINED_ALGORITHMIC_MEDIA,
        "generator": "vidgate",
        "generator_engine": engine,
        "generator_seed": str(seed),
    }


@dataclass(frozen=True)
class WatermarkStyle:
    text: str = "AI generated"
    position: Position = "bottom-right"
    image_path: Path | None = None  # replaces the glyph; PNG with transparency works best
    opacity: float = 0.7

    @classmethod
    def from_settings(cls, settings: Settings) -> WatermarkStyle:
        return cls(
            settings.watermark_text,
            settings.watermark_position,
            settings.watermark_image,
            settings.watermark_opacity,
        )


@dataclass(frozen=True)
class _Overlay:
    x: int
    y: int
    inverse_alpha: np.ndarray  # uint16 (h, w, 1): 255 - alpha
    premultiplied: np.ndarray  # uint16 (h, w, 3): rgb * alpha + 127, for rounding on // 255
    premultiplied_yuv: np.ndarray  # the same for YUV frames: yuv * alpha + 127


class Watermark:
    """A frame filter: `watermark(frame)` returns a marked copy of the frame (RGB array or YuvFrame)."""

    def __init__(self, style: WatermarkStyle | None = None) -> None:
        self.style = style or WatermarkStyle()
        if not 0 < self.style.opacity <= 1:
            raise ValueError(f"watermark opacity must be in (0, 1], got {self.style.opacity}")
        if not self.style.text and self.style.image_path is None:
            raise ValueError("a watermark needs text, an image, or both")
        self._logo = _load_image(self.style.image_path) if self.style.image_path else None
        self._overlays: dict[tuple[int, int], _Overlay] = {}

    def region(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the pixels the mark may touch in a frame of this size."""
        overlay = self._overlay(width, height)
        h, w = overlay.inverse_alpha.shape[:2]
        return overlay.x, overlay.y, overlay.x + w, overlay.y + h

    def __call__(self, frame: Frame) -> Frame:
        if isinstance(frame, YuvFrame):
            return YuvFrame(self._marked(frame.pixels, yuv=True))
        return self._marked(frame, yuv=False)

    def _marked(self, pixels: np.ndarray, yuv: bool) -> np.ndarray:
        height, width = pixels.shape[:2]
        overlay = self._overlay(width, height)
        h, w = overlay.inverse_alpha.shape[:2]
        # A copy: engines may hand the same array over twice (a still frame), and it must not be
        # marked twice.
        out = pixels.copy()
        roi = out[overlay.y : overlay.y + h, overlay.x : overlay.x + w, :3]
        colour = overlay.premultiplied_yuv if yuv else overlay.premultiplied
        roi[...] = ((roi.astype(np.uint16) * overlay.inverse_alpha + colour) // 255).astype(np.uint8)
        return out

    def _overlay(self, width: int, height: int) -> _Overlay:
        key = (width, height)
        if key not in self._overlays:
            self._overlays[key] = self._draw(width, height)
        return self._overlays[key]

    def _draw(self, width: int, height: int) -> _Overlay:
        scale = min(width, height) / 720
        font_px = max(10, round(22 * scale))
        margin = max(6, round(24 * scale))
        glyph_px = round(font_px * 1.15)
        gap = round(font_px * 0.4) if self.style.text else 0
        font = ImageFont.load_default(size=font_px)  # Pillow's bundled font: nothing to install
        bbox = font.getbbox(self.style.text) if self.style.text else (0, 0, 0, 0)
        left, top, right, bottom = (round(edge) for edge in bbox)
        text_w, text_h = right - left, bottom - top
        logo = self._logo_image(glyph_px)
        shadow_px = max(1, round(2 * scale))
        pad = 3 * shadow_px  # room for the shadow's blur
        box_w = logo.width + gap + text_w + 2 * pad
        box_h = max(logo.height, text_h) + 2 * pad
        box_w, box_h = min(box_w, width), min(box_h, height)

        mark = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        mark.alpha_composite(logo, (pad, (box_h - logo.height) // 2))
        if self.style.text:
            draw = ImageDraw.Draw(mark)
            text_y = (box_h - text_h) // 2 - top
            text_x = pad + logo.width + gap - left
            draw.text((text_x, text_y), self.style.text, font=font, fill=(255, 255, 255, 255))
        shadow_alpha = mark.getchannel("A").filter(ImageFilter.GaussianBlur(shadow_px))
        shadow = Image.new("RGBA", mark.size, (0, 0, 0, 0))
        shadow.putalpha(shadow_alpha.point(lambda a: a * 0.65))
        composed = Image.new("RGBA", mark.size, (0, 0, 0, 0))
        composed.alpha_composite(shadow, (shadow_px // 2 + 1, shadow_px // 2 + 1))
        composed.alpha_composite(mark)

        rgba = np.asarray(composed).astype(np.uint16)
        alpha = np.round(rgba[..., 3:4] * self.style.opacity).astype(np.uint16)
        x, y = self._corner(width, height, box_w, box_h, margin - pad)
        yuv = np.round(rgb_colour_to_yuv(rgba[..., :3]) * alpha).astype(np.uint16)
        return _Overlay(x, y, 255 - alpha, rgba[..., :3] * alpha + 127, yuv + 127)

    def _corner(self, width: int, height: int, box_w: int, box_h: int, margin: int) -> tuple[int, int]:
        margin = max(0, margin)
        right = self.style.position.endswith("right")
        bottom = self.style.position.startswith("bottom")
        x = width - box_w - margin if right else margin
        y = height - box_h - margin if bottom else margin
        return max(0, x), max(0, y)

    def _logo_image(self, size: int) -> Image.Image:
        if self._logo is not None:
            width = max(1, round(self._logo.width * size / self._logo.height))
            return self._logo.resize((width, size), Image.Resampling.LANCZOS)
        return _sparkle(size)


def _sparkle(size: int) -> Image.Image:
    """A four-pointed star with a small companion: the glyph people read as "AI"."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def star(cx: float, cy: float, radius: float) -> None:
        waist = radius * 0.28
        points = []
        for k in range(8):
            r = radius if k % 2 == 0 else waist
            angle = np.pi / 4 * k - np.pi / 2
            points.append((cx + r * np.cos(angle), cy + r * np.sin(angle)))
        draw.polygon(points, fill=(255, 255, 255, 255))

    star(big * 0.42, big * 0.56, big * 0.42)
    star(big * 0.82, big * 0.2, big * 0.17)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _load_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGBA")
    except (OSError, ValueError) as exc:
        raise ValueError(f"watermark image {path} could not be read: {exc}") from exc


@functools.lru_cache(maxsize=4)
def watermark_in(style: WatermarkStyle) -> Watermark:
    """The one `Watermark` of a style in this process: it draws its overlay once per frame size and
    keeps it, so every render with the same settings reuses what earlier ones drew."""
    return Watermark(style)
