"""The streaming H.264 encoder: valid, fast-start, deterministic MP4s; nothing left behind on failure."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from vidgate.engines.base import RenderCancelled
from vidgate.media import encode
from vidgate.media.colour import YuvFrame, rgb_to_yuv
from vidgate.media.encode import PIPELINE_DEPTH, VideoEncoder, encode_frames

WIDTH, HEIGHT, FPS = 160, 96, 24


def moving_frames(count: int, width: int = WIDTH, height: int = HEIGHT) -> Iterator[np.ndarray]:
    """A smooth colour gradient sliding sideways: easy to compare after lossy coding."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    for index in range(count):
        phase = xs / width * 2 * np.pi + index * 0.2
        red = 128 + 100 * np.sin(phase)
        green = 128 + 100 * np.cos(ys / height * np.pi)
        blue = np.full_like(xs, 90.0 + index)
        yield np.dstack([red, green, blue]).round().astype(np.uint8)


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:  # 64-bit size follows
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode("ascii"))
        if size == 0:
            break
        offset += size
    return boxes


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_encoded_file_is_h264_yuv420p_with_every_frame(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    written = encode_frames(moving_frames(30), out, WIDTH, HEIGHT, fps=FPS)

    assert written == 30
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
        assert stream.average_rate == FPS
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == 30
    # Lossy, but the colours must survive (a wrong matrix or range would be off by tens of levels).
    for original, roundtrip in zip(moving_frames(30), decoded, strict=True):
        assert np.abs(original.astype(int) - roundtrip.astype(int)).mean() < 3.0


def test_moov_precedes_mdat_for_fast_start(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    encode_frames(moving_frames(10), out, WIDTH, HEIGHT)
    boxes = top_level_boxes(out)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


@pytest.mark.parametrize("quality", ["fast", "balanced", "best"])
def test_same_frames_give_byte_identical_files(tmp_path: Path, quality: encode.Quality) -> None:
    first, second = tmp_path / "a.mp4", tmp_path / "b.mp4"
    encode_frames(moving_frames(20), first, WIDTH, HEIGHT, threads=2, quality=quality)
    encode_frames(moving_frames(20), second, WIDTH, HEIGHT, threads=2, quality=quality)
    assert digest(first) == digest(second)


def test_context_manager_writes_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with VideoEncoder(out, WIDTH, HEIGHT) as encoder:
        for frame in moving_frames(5):
            encoder.write(frame)
        assert not out.exists()  # still under its temporary name
    assert out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]

    failed = tmp_path / "failed.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoEncoder(failed, WIDTH, HEIGHT) as encoder:
        encoder.write(next(moving_frames(1)))
        raise RuntimeError("boom")
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_failed_encode_keeps_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")

    def broken() -> Iterator[np.ndarray]:
        yield from moving_frames(3)
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        encode_frames(broken(), out, WIDTH, HEIGHT)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_cancelled_producer_stops_everything_and_leaves_no_file(tmp_path: Path) -> None:
    def cancelled_midway() -> Iterator[np.ndarray]:
        for index, frame in enumerate(moving_frames(100)):
            if index == 12:
                raise RenderCancelled("user cancelled")
            yield frame

    with pytest.raises(RenderCancelled):
        encode_frames(cancelled_midway(), tmp_path / "out.mp4", WIDTH, HEIGHT)
    assert list(tmp_path.iterdir()) == []


def test_encoder_failure_propagates_and_closes_the_producer(tmp_path: Path) -> None:
    closed = []

    def frames_with_a_bad_one() -> Iterator[np.ndarray]:
        try:
            yield from moving_frames(4)
            yield np.zeros((HEIGHT + 2, WIDTH, 3), np.uint8)  # wrong size: the encoder rejects it
            yield from moving_frames(50)
        finally:
            closed.append(True)

    with pytest.raises(ValueError, match="expected uint8 frame"):
        encode_frames(frames_with_a_bad_one(), tmp_path / "out.mp4", WIDTH, HEIGHT)
    assert closed == [True]
    assert list(tmp_path.iterdir()) == []


def test_producer_runs_at_most_a_bounded_queue_ahead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    produced = encoded = max_ahead = 0
    real_write = VideoEncoder.write

    def slow_write(self: VideoEncoder, frame: np.ndarray) -> None:
        nonlocal encoded
        time.sleep(0.002)
        real_write(self, frame)
        encoded += 1

    def counted() -> Iterator[np.ndarray]:
        nonlocal produced, max_ahead
        for frame in moving_frames(60):
            max_ahead = max(max_ahead, produced - encoded)
            produced += 1
            yield frame

    monkeypatch.setattr(VideoEncoder, "write", slow_write)
    assert encode_frames(counted(), tmp_path / "out.mp4", WIDTH, HEIGHT) == 60
    # queue + the frame being encoded + the frame being handed over
    assert max_ahead <= PIPELINE_DEPTH + 2


def test_rejects_bad_parameters_and_empty_videos(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoEncoder(tmp_path / "odd.mp4", 161, 96)
    with pytest.raises(ValueError, match="quality"):
        VideoEncoder(tmp_path / "q.mp4", WIDTH, HEIGHT, quality="ultra")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no frames"):
        encode_frames(iter([]), tmp_path / "empty.mp4", WIDTH, HEIGHT)
    assert list(tmp_path.iterdir()) == []


def test_yuv_frames_encode_like_the_same_rgb_frames(tmp_path: Path) -> None:
    rgb_out, yuv_out = tmp_path / "rgb.mp4", tmp_path / "yuv.mp4"
    encode_frames(moving_frames(12), rgb_out, WIDTH, HEIGHT)
    encode_frames((YuvFrame(rgb_to_yuv(frame)) for frame in moving_frames(12)), yuv_out, WIDTH, HEIGHT)

    def decoded(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as container:
            return [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]

    rgb_frames, yuv_frames = decoded(rgb_out), decoded(yuv_out)
    assert len(yuv_frames) == 12
    for original, from_rgb, from_yuv in zip(moving_frames(12), rgb_frames, yuv_frames, strict=True):
        # The same colours, and no more loss than the swscale path (the chroma is halved differently).
        loss_rgb, loss_yuv = (np.abs(original.astype(int) - f).mean() for f in (from_rgb, from_yuv))
        assert loss_yuv < 3.0 and loss_yuv <= loss_rgb + 0.25


def test_rejects_frames_of_the_wrong_shape(tmp_path: Path) -> None:
    wrong = [
        np.zeros((HEIGHT, WIDTH, 4), np.uint8),  # RGBA is not RGB
        YuvFrame(np.zeros((HEIGHT, WIDTH + 2, 3), np.uint8)),
        YuvFrame(np.zeros((HEIGHT, WIDTH, 3), np.float32)),
    ]
    for frame in wrong:
        with pytest.raises(ValueError, match="expected uint8 frame"):
            encode_frames(iter([frame]), tmp_path / "out.mp4", WIDTH, HEIGHT)
    assert list(tmp_path.iterdir()) == []
