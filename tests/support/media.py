"""Helpers the tests import: images made in code, data: URIs, MP4 inspection."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import av
import numpy as np
from PIL import Image


def make_image(width: int = 320, height: int = 180, seed: int = 0, fmt: str = "PNG") -> bytes:
    """A photo-like test image: smooth gradients plus texture, so motion is measurable."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    base = np.stack([200 * x + 30 * y, 120 + 80 * y * x, 220 - 150 * y], axis=-1)
    texture = rng.normal(0, 18, (height // 8 + 1, width // 8 + 1, 3))
    texture = np.kron(texture, np.ones((8, 8, 1)))[:height, :width]
    pixels = np.clip(base + texture, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def data_uri(data: bytes, subtype: str = "png") -> str:
    return f"data:image/{subtype};base64," + base64.b64encode(data).decode()


def probe(path: Path) -> dict[str, object]:
    """What a client would check of a downloaded MP4."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.width,
            "height": stream.height,
            "frames": frames,
            "fps": float(stream.average_rate or 0),
            "duration": float(container.duration or 0) / 1_000_000,
            "audio_streams": len(container.streams.audio),
        }


def moov_before_mdat(path: Path) -> bool:
    """faststart: the index (moov) precedes the media data (mdat), so playback starts at once."""
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")
