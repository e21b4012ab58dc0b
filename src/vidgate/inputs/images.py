"""One validator for every image, whether it came as a data: URI or was fetched from a URL.

Whatever passes is re-encoded as a plain RGB PNG (EXIF orientation applied, alpha flattened) and
stored under its content hash, so no engine ever decodes a stranger's file, and a retry of the
task reads the stored copy instead of downloading again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings

import numpy as np
from PIL import Image, ImageOps

from vidgate.errors import (
    ImageExceedsMaxResolution,
    ImageFileExceedsMaxSize,
    InvalidImageFormat,
    InvalidImageSize,
)
from vidgate.storage import ObjectStore

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_ASPECT = 4.0
MIN_SIDE = 16
STORED_PREFIX = "sha256:"
_DATA_URI = re.compile(r"data:image/(?P<subtype>[a-zA-Z0-9.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.I)


def is_data_uri(ref: str) -> bool:
    return ref[:5].lower() == "data:"


def decode_data_uri(ref: str, index: int) -> bytes:
    match = _DATA_URI.match(ref)
    if not match:
        raise InvalidImageFormat(
            f"images[{index}]: a data URI must look like data:image/png;base64,<data>.",
            {"index": index},
        )
    payload = ref[match.end() :]
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageFormat(
            f"images[{index}]: the data URI is not valid base64.", {"index": index}
        ) from None


def normalise(data: bytes, index: int, max_bytes: int, max_pixels: int) -> bytes:
    """Check an image and return it as a PNG of RGB pixels; raises an ImageError naming the image."""
    where = f"images[{index}]"
    if len(data) > max_bytes:
        raise ImageFileExceedsMaxSize(
            f"{where} is {len(data)} bytes; the limit is {max_bytes} bytes.",
            {"index": index, "limit": max_bytes},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data))
            if getattr(image, "format", None) not in ALLOWED_FORMATS:
                raise InvalidImageFormat(
                    f"{where} is {getattr(image, 'format', None) or 'not an image'}; use PNG, JPEG or WebP.",
                    {"index": index},
                )
            width, height = image.size
            if width * height > max_pixels:
                raise ImageExceedsMaxResolution(
                    f"{where} is {width}x{height} ({width * height} pixels); "
                    f"the limit is {max_pixels} pixels.",
                    {"index": index, "limit": max_pixels},
                )
            image.seek(0)  # animated images: the first frame only
            image = ImageOps.exif_transpose(image)
            image.load()
    except (InvalidImageFormat, ImageExceedsMaxResolution):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageExceedsMaxResolution(f"{where} has too many pixels.", {"index": index}) from None
    except Exception:  # Pillow raises many types for corrupt files; all mean the same to a user
        raise InvalidImageFormat(
            f"{where} is not a readable PNG, JPEG or WebP image.", {"index": index}
        ) from None
    width, height = image.size
    if min(width, height) < MIN_SIDE or max(width, height) / min(width, height) > MAX_ASPECT:
        raise InvalidImageSize(
            f"{where} is {width}x{height}; each side must be at least {MIN_SIDE} px and the aspect ratio "
            f"within 1:4 and 4:1.",
            {"index": index},
        )
    if image.mode in ("RGBA", "LA", "P", "PA") and ("A" in image.getbands() or "transparency" in image.info):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        image = flattened
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def store_image(store: ObjectStore, png: bytes) -> str:
    """Keep a normalised image by content hash; returns its reference `sha256:<hex>`."""
    digest = hashlib.sha256(png).hexdigest()
    key = input_key(digest)
    if not store.exists(key):
        store.put_bytes(key, png)
    return STORED_PREFIX + digest


def input_key(digest: str) -> str:
    return f"inputs/{digest[:2]}/{digest}.png"


def load_stored(store: ObjectStore, ref: str) -> np.ndarray:
    """A stored reference as an RGB uint8 array."""
    return decode_png(store.get_bytes(input_key(ref.removeprefix(STORED_PREFIX))))


def decode_png(png: bytes) -> np.ndarray:
    """A normalised image (see `normalise`) as an RGB uint8 array."""
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))
