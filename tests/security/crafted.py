"""Hostile and unusual image files, made in code: headers that lie, profiles that convert, payloads
that ride along. Each builder returns the bytes of one file."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from support.media import make_image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int, extra_chunks: bytes = b"") -> bytes:
    """A PNG whose IHDR claims `width` x `height` (8-bit grey) with a few bytes of data: a
    decompression bomb as far as any decoder that trusts the header is concerned."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + extra_chunks
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def ztxt_bomb() -> bytes:
    """A small, valid PNG carrying a compressed text chunk that inflates to 64 MB."""
    bomb = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (64 * 1024 * 1024), 9))
    png = encode(Image.new("RGB", (32, 32), (10, 20, 30)))
    return png[:33] + bomb + png[33:]  # right after IHDR


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real JPEG with its frame header (SOF0) patched to claim another size: a pixel flood."""
    data = bytearray(make_image(64, 64, fmt="JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_with_canvas(width: int, height: int) -> bytes:
    """An extended WebP (VP8X) whose canvas claims `width` x `height`."""
    vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def encode(image: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def rgb_profile(
    red: tuple[float, float, float], green: tuple[float, float, float], blue: tuple[float, float, float]
) -> bytes:
    """A minimal ICC v2 display profile with linear curves and the given primaries (XYZ, D50)."""
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">I", 0)  # identity
    desc_text = b"vidgate test profile\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(desc_text)) + desc_text + b"\x00" * 79
    tags = [
        (b"desc", desc), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(*red)),
        (b"gXYZ", _xyz(*green)), (b"bXYZ", _xyz(*blue)), (b"rTRC", curve), (b"gTRC", curve),
        (b"bTRC", curve), (b"cprt", b"text\x00\x00\x00\x00none\x00"),
    ]  # fmt: skip
    offset = 128 + 4 + 12 * len(tags)
    table, blobs = b"", b""
    for signature, blob in tags:
        blob += b"\x00" * (-len(blob) % 4)
        table += signature + struct.pack(">II", offset + len(blobs), len(blob))
        blobs += blob
    size = offset + len(blobs)
    header = (
        struct.pack(">I", size) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntr" + b"RGB " + b"XYZ "
        + b"\x00" * 12 + b"acsp" + b"\x00" * 24 + struct.pack(">I", 0) + _xyz(0.9642, 1.0, 0.8249)[8:]
        + b"\x00" * 4
    )  # fmt: skip
    header += b"\x00" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + blobs


# sRGB's primaries adapted to D50, and the same with red and blue swapped: a red pixel under the
# swapped profile is blue in sRGB, which makes a conversion (or its absence) plain to see.
SRGB_PRIMARIES = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))
SWAPPED_PROFILE = rgb_profile(SRGB_PRIMARIES[2], SRGB_PRIMARIES[1], SRGB_PRIMARIES[0])
