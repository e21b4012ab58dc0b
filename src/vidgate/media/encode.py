"""Streaming H.264 (+ AAC) encoding with PyAV: frames in, a finished MP4 out, never all frames in
memory. Deterministic (the same frames and settings give a byte-identical file), and a file appears
under its final name only once complete. Why each setting is what it is: docs/architecture.md,
"Encoding"."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import numpy as np

from vidgate.media.colour import Frame, YuvFrame, pack_i420

Quality = Literal["fast", "balanced", "best"]
# Applied to every frame just before encoding (e.g. the watermark); returns the frame to encode, in
# the same form it was given (RGB array or YuvFrame).
FrameFilter = Callable[[Frame], Frame]

# x264 preset and CRF per quality class. Without mbtree (see above) x264 spends more bits at a given
# CRF, so balanced and best sit one step above the usual 20 and 18; fast keeps x264's default 23.
# Measured at 720p on 2 cores: "faster" costs ~1.7x "veryfast" for a visibly cleaner picture;
# "medium" ~3x, kept for `best`, where the user chose quality over latency.
X264_SETTINGS: dict[str, tuple[str, int]] = {
    "fast": ("veryfast", 23),
    "balanced": ("faster", 21),
    "best": ("medium", 19),
}
# Fixed encoder options shared by every quality class; see the module docstring for mbtree.
X264_PARAMS = "mbtree=0"

# Suffix of the hidden file an encode writes before renaming it into place (`.{name}.{random}.part`).
# A process killed mid-encode leaves one behind; cleanup jobs may delete these when older than a render.
PARTIAL_SUFFIX = ".part"

# Frames waiting between the renderer and the encoder: enough to smooth out jitter between the two,
# small enough that memory stays bounded (8 x 1080p YUVA is about 66 MB).
PIPELINE_DEPTH = 8

AUDIO_SAMPLE_RATE = 48_000
AUDIO_CHANNELS = 2
AAC_FRAME_SAMPLES = 1024
AAC_BIT_RATE = 160_000
_CODEC_FLAG_BITEXACT = 1 << 23  # AV_CODEC_FLAG_BITEXACT: the codec-level twin of the muxer's +bitexact


class VideoEncoder:
    """Encode frames to an H.264/yuv420p MP4 with the `moov` atom up front (`+faststart`).

    Frames are RGB uint8 arrays (converted to BT.709 YUV by swscale) or `YuvFrame`s, already in the
    coded colour space, which only need their chroma halved (what the motion engine sends: see
    media/colour.py for why).

    Use as a context manager: leaving the block normally finalises the file; leaving it with an
    exception deletes the partial output.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: int = 24,
        threads: int = 2,
        quality: Quality = "balanced",
        audio: np.ndarray | None = None,
        frame_filter: FrameFilter | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"frame size must be positive and even for yuv420p, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if threads <= 0:
            raise ValueError(f"threads must be pinned to a positive number, got {threads}")
        if quality not in X264_SETTINGS:
            raise ValueError(f"quality must be one of {sorted(X264_SETTINGS)}, got {quality!r}")
        if audio is not None and (
            audio.dtype != np.float32 or audio.ndim != 2 or audio.shape[1] != AUDIO_CHANNELS
        ):
            raise ValueError(f"audio must be float32 of shape (samples, 2), got {audio.dtype} {audio.shape}")
        self.path = Path(path)
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_written = 0
        self.frame_filter = frame_filter
        # Planar (channels, samples), the layout AAC's encoder takes.
        self._audio = None if audio is None else np.ascontiguousarray(audio.T)
        self._audio_written = 0
        self._temp_path = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
        self._closed = False

        preset, crf = X264_SETTINGS[quality]
        # format="mp4" because the temporary name has no .mp4 extension to infer it from.
        self._container = av.open(
            str(self._temp_path),
            mode="w",
            format="mp4",
            options={"movflags": "+faststart+use_metadata_tags", "fflags": "+bitexact"},
        )
        try:
            self._container.metadata.update(metadata or {})
            self._stream = self._container.add_stream("libx264", rate=Fraction(fps, 1))
            ctx = self._stream.codec_context
            ctx.width = width
            ctx.height = height
            ctx.pix_fmt = "yuv420p"
            ctx.time_base = Fraction(1, fps)
            ctx.thread_count = threads
            # Frame threading (not slices) is x264's default and deterministic for a fixed count.
            ctx.thread_type = "FRAME"
            # We convert with the BT.709 matrix in limited range; say so, or players guess.
            ctx.colorspace = 1  # AVCOL_SPC_BT709
            ctx.color_primaries = 1  # AVCOL_PRI_BT709
            ctx.color_trc = 1  # AVCOL_TRC_BT709
            ctx.color_range = 1  # AVCOL_RANGE_MPEG
            self._stream.options = {"preset": preset, "crf": str(crf), "x264-params": X264_PARAMS}
            self._audio_stream = None
            if self._audio is not None:
                self._audio_stream = self._container.add_stream(
                    "aac", rate=AUDIO_SAMPLE_RATE, layout="stereo"
                )
                audio_ctx = self._audio_stream.codec_context
                audio_ctx.bit_rate = AAC_BIT_RATE
                audio_ctx.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
                audio_ctx.flags |= _CODEC_FLAG_BITEXACT
        except BaseException:
            self._discard()
            raise

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: Frame) -> None:
        """Encode one frame, after the frame filter if any: RGB uint8 (height, width, 3), or a YuvFrame."""
        if self._closed:
            raise RuntimeError("encoder is closed")
        if self.frame_filter is not None:
            frame = self.frame_filter(frame)
        if isinstance(frame, YuvFrame):
            self._check_frame(frame.pixels, channels=(3, 4))
            yuv = av.VideoFrame.from_ndarray(pack_i420(frame), format="yuv420p")
        else:
            self._check_frame(frame, channels=(3,))
            rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            # One swscale thread: rendering and x264 already occupy the cores, and extra threads
            # only contend with them.
            yuv = rgb.reformat(
                format="yuv420p",
                dst_colorspace="ITU709",
                dst_color_range="MPEG",
                threads=1,
            )
        yuv.pts = self.frames_written
        self._container.mux(self._stream.encode(yuv))
        self.frames_written += 1
        # Keep the sound level with the picture so the muxer interleaves without buffering much.
        self._write_audio_until(self._audio_samples_for(self.frames_written), final=False)

    def _check_frame(self, pixels: np.ndarray, channels: tuple[int, ...]) -> None:
        shape_ok = pixels.ndim == 3 and pixels.shape[:2] == (self.height, self.width)
        if pixels.dtype != np.uint8 or not shape_ok or pixels.shape[2] not in channels:
            raise ValueError(
                f"expected uint8 frame of shape {(self.height, self.width, 3)}, "
                f"got {pixels.dtype} {pixels.shape}"
            )

    def _audio_samples_for(self, frames: int) -> int:
        return frames * AUDIO_SAMPLE_RATE // self.fps

    def _write_audio_until(self, end: int, final: bool) -> None:
        """Encode the soundtrack up to sample `end`, in whole AAC frames unless `final`; past the end
        of the given samples, silence."""
        if self._audio is None or self._audio_stream is None:
            return
        while self._audio_written < end:
            count = min(AAC_FRAME_SAMPLES, end - self._audio_written)
            if count < AAC_FRAME_SAMPLES and not final:
                return
            chunk = self._audio[:, self._audio_written : self._audio_written + count]
            if chunk.shape[1] < count:
                chunk = np.pad(chunk, ((0, 0), (0, count - chunk.shape[1])))
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_SAMPLE_RATE
            frame.pts = self._audio_written
            self._container.mux(self._audio_stream.encode(frame))
            self._audio_written += count

    def close(self) -> None:
        """Flush the encoder, finish the MP4 and move it to its final name."""
        if self._closed:
            return
        try:
            if self.frames_written == 0:
                raise ValueError("no frames were written; refusing to produce an empty video")
            if self._audio_stream is not None:
                self._write_audio_until(self._audio_samples_for(self.frames_written), final=True)
                self._container.mux(self._audio_stream.encode(None))
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._closed = True
            os.replace(self._temp_path, self.path)
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        """Stop without producing a file (idempotent)."""
        if not self._closed:
            self._discard()

    def _discard(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):  # a half-written container may fail to close; it goes anyway
            self._container.close()
        self._temp_path.unlink(missing_ok=True)


class _EncoderFailed(Exception):
    """Internal: the encoder thread stopped, so the producer must stop too."""


_END = object()  # sentinel: the producer finished normally
_ABORT = object()  # sentinel: the producer failed; discard the output


def encode_frames(
    frames: Iterable[Frame],
    path: str | os.PathLike[str],
    width: int,
    height: int,
    fps: int = 24,
    threads: int = 2,
    quality: Quality = "balanced",
    audio: np.ndarray | None = None,
    frame_filter: FrameFilter | None = None,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Render and encode concurrently; return the number of frames written.

    The frame iterable is consumed in the *calling* thread and x264 runs in a helper thread, joined by a
    bounded queue. This way round, an engine's progress and cancellation callbacks (called while
    frames are generated) run in the caller's thread, which matters for callers holding thread-bound
    resources such as SQLite connections. Both cv2 and PyAV release the GIL, so the two overlap.

    `audio`, `frame_filter` and `metadata` are as for `VideoEncoder`; the filter runs in the encoder
    thread, off the renderer's critical path.

    Any exception from the frames (including `RenderCancelled`) or from the encoder propagates,
    and no file is left behind.
    """
    pending: queue.Queue[object] = queue.Queue(maxsize=PIPELINE_DEPTH)
    encoder = VideoEncoder(
        path,
        width,
        height,
        fps=fps,
        threads=threads,
        quality=quality,
        audio=audio,
        frame_filter=frame_filter,
        metadata=metadata,
    )
    failure: list[BaseException] = []
    stop = threading.Event()  # set by the producer on failure: skip the frames still queued

    def consume() -> None:
        try:
            while True:
                item = pending.get()
                if item is _ABORT or stop.is_set():
                    encoder.abort()
                    return
                if item is _END:
                    encoder.close()
                    return
                encoder.write(item)  # type: ignore[arg-type]
        except BaseException as exc:  # handed over to the calling thread, raised there
            failure.append(exc)
            encoder.abort()

    worker = threading.Thread(target=consume, name="vidgate-encoder", daemon=True)
    worker.start()

    def hand_over(item: object) -> None:
        # A blocking put would hang forever if the encoder died with a full queue; poll instead.
        while True:
            if not worker.is_alive():
                raise _EncoderFailed
            try:
                pending.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    try:
        for frame in frames:
            hand_over(frame)
        hand_over(_END)
    except _EncoderFailed:
        # The encoder's own exception is raised below; let the frame source clean up first.
        close_source = getattr(frames, "close", None)
        if callable(close_source):
            close_source()
    except BaseException:
        stop.set()
        _stop_consumer(pending, worker)
        raise
    worker.join()
    if failure:
        raise failure[0]
    return encoder.frames_written


def _stop_consumer(pending: queue.Queue[object], worker: threading.Thread) -> None:
    """Wake the encoder thread so that it sees the stop flag, discards its output and exits."""
    while worker.is_alive():
        try:
            pending.put(_ABORT, timeout=0.1)
            break
        except queue.Full:
            continue
    worker.join()
