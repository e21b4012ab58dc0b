"""One validator for every image, whether it came as a data: URI or was fetched from a URL.

Whatever passes is re-encoded as a plain sRGB PNG (first frame of an animation, EXIF orientation
applied, colour profile converted, alpha flattened onto white) and stored under its content hash,
so no engine ever decodes a stranger's file, and a retry of the task reads the stored copy instead
of downloading again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import re
import warnings
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageCms, ImageOps

from vidgate.errors import (
    ImageExceedsMaxResolution,
    ImageFileExceedsMaxSize,
    InvalidImageFormat,
    InvalidImageSize,
    InvalidRequestBody,
)
from vidgate.storage import ObjectStore

log = logging.getLogger("vidgate.inputs")
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_ASPECT = 4.0
MIN_SIDE = 16
STORED_PREFIX = "sha256:"
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_DATA_URI = re.compile(r"data:image/(?P<subtype>[a-zA-Z0-9.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.I)


def check_image_count(count: int, limit: int) -> None:
    """A task takes at most `limit` images (VIDGATE_MAX_IMAGES): the API and `vidgate generate` alike."""
    if count > limit:
        raise InvalidRequestBody(
            f"Field 'images': at most {limit} images per task.", {"field": "images", "limit": limit}
        )


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
    """Check an image and return it as a PNG of sRGB pixels; raises an ImageError naming the image.

    Only the PNG, JPEG and WebP decoders are ever run on a stranger's bytes. The pixel count is
    checked from the header, before anything is decoded; Pillow's own decompression-bomb warning is
    an error here too. An animated image (APNG, animated WebP) contributes its first frame only."""
    out = io.BytesIO()
    normalised_image(data, index, max_bytes, max_pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def normalised_pixels(data: bytes, index: int, max_bytes: int, max_pixels: int) -> np.ndarray:
    """What `decode_png(normalise(...))` gives, without the PNG in between: for a local render
    (`vidgate generate`), which stores nothing and so needs no PNG (~0.1 s for a 1280x720 photo)."""
    return np.asarray(normalised_image(data, index, max_bytes, max_pixels))


def normalised_image(data: bytes, index: int, max_bytes: int, max_pixels: int) -> Image.Image:
    """The checks and the decoding of `normalise`: an RGB image; raises an ImageError naming the image."""
    where = f"images[{index}]"
    if len(data) > max_bytes:
        raise ImageFileExceedsMaxSize(
            f"{where} is {len(data)} bytes; the limit is {max_bytes} bytes.",
            {"index": index, "limit": max_bytes},
        )
    try:
        with warnings.catch_warnings():
            # Metadata warnings (a corrupt EXIF block, say) must not escape into callers that treat
            # warnings as errors; they do not affect the pixels, and orientation falls back to none.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _decode(data, where, index, max_pixels)
    except (InvalidImageFormat, ImageExceedsMaxResolution, InvalidImageSize):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageExceedsMaxResolution(
            f"{where} has more than {max_pixels} pixels.", {"index": index, "limit": max_pixels}
        ) from None
    except Exception:  # Pillow raises many types for corrupt files; all mean the same to a user
        raise InvalidImageFormat(
            f"{where} is not a readable PNG, JPEG or WebP image.", {"index": index}
        ) from None
    return image


def _decode(data: bytes, where: str, index: int, max_pixels: int) -> Image.Image:
    """The first frame, upright, in sRGB, without alpha (flattened onto white)."""
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS))
    except Image.UnidentifiedImageError:
        raise InvalidImageFormat(f"{where} is not a PNG, JPEG or WebP image.", {"index": index}) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageExceedsMaxResolution(
            f"{where} is {width}x{height} ({width * height} pixels); the limit is {max_pixels} pixels.",
            {"index": index, "limit": max_pixels},
        )
    # From the header too (a quarter turn by EXIF changes neither side's length nor the ratio).
    if min(width, height) < MIN_SIDE or max(width, height) / min(width, height) > MAX_ASPECT:
        raise InvalidImageSize(
            f"{where} is {width}x{height}; each side must be at least {MIN_SIDE} px and the aspect ratio "
            f"within 1:4 and 4:1.",
            {"index": index},
        )
    image.seek(0)
    image.load()
    icc_profile = image.info.get("icc_profile")
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a corrupt EXIF block: show the image as stored
        log.debug("%s: unreadable EXIF orientation ignored", where)
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    target = "RGBA" if has_alpha else "RGB"
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: keep its range, not its clipping
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) // 257).astype(np.uint8), "L")
    if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        image = image.convert(target)
    if icc_profile:
        image = _to_srgb(image, icc_profile, target, where)
    image = image.convert(target)
    if target == "RGBA":
        flattened = Image.new("RGB", image.size, (255, 255, 255))
        flattened.paste(image, mask=image.getchannel("A"))
        image = flattened
    return image


def _to_srgb(image: Image.Image, icc_profile: bytes, target: str, where: str) -> Image.Image:
    """Convert from the embedded colour profile, so a wide-gamut (Display P3, Adobe RGB) or CMYK
    photo keeps its colours. A profile LittleCMS cannot use is ignored: the pixels are taken as sRGB."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=target)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        log.debug("%s: unusable ICC profile ignored", where)
        return image
    return converted if converted is not None else image


def store_image(store: ObjectStore, png: bytes, register: Callable[[str, int], None]) -> str:
    """Keep a normalised image by content hash; returns its reference `sha256:<hex>`. `register`
    (the store's `retention.register_input`) marks it used first: from then on retention leaves it
    alone, and an object it deleted just before is put back here (see store/retention.py)."""
    digest = hashlib.sha256(png).hexdigest()
    key = input_key(digest)
    register(digest, len(png))
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
        # Normalised images are RGB already: a convert would be one more full-size copy (36 MB for
        # a 12 MP photo) at the moment the decode peaks.
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
