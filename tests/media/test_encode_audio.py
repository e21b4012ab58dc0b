"""The encoder's soundtrack, frame filter and metadata: AAC muxed in step, exact length, same bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pytest

from support.audio import decode_audio, stream_seconds
from support.media import probe
from vidgate.media.encode import AAC_FRAME_SAMPLES, AUDIO_SAMPLE_RATE, VideoEncoder, encode_frames

WIDTH, HEIGHT, FPS = 160, 96, 24
ONE_AAC_FRAME_S = AAC_FRAME_SAMPLES / AUDIO_SAMPLE_RATE


def frames(count: int):  # type: ignore[no-untyped-def]
    for index in range(count):
        yield np.full((HEIGHT, WIDTH, 3), 40 + index, np.uint8)


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * AUDIO_SAMPLE_RATE)) / AUDIO_SAMPLE_RATE
    wave = 0.25 * np.sin(2 * np.pi * hz * t)
    return np.stack([wave, wave], axis=1).astype(np.float32)


def test_no_soundtrack_means_no_audio_stream(tmp_path: Path) -> None:
    out = tmp_path / "silent.mp4"
    encode_frames(frames(24), out, WIDTH, HEIGHT)
    assert probe(out)["audio_streams"] == 0


@pytest.mark.parametrize("audio_seconds", [2.0, 1.5, 2.7])
def test_audio_lasts_exactly_as_long_as_the_video(tmp_path: Path, audio_seconds: float) -> None:
    """Given more or less sound than picture, the track is cut or padded to the picture's length."""
    out = tmp_path / "av.mp4"
    encode_frames(frames(48), out, WIDTH, HEIGHT, audio=tone(audio_seconds))
    seconds = stream_seconds(out)
    assert seconds["video"] == pytest.approx(2.0)
    assert abs(seconds["audio"] - seconds["video"]) <= ONE_AAC_FRAME_S
    samples, rate = decode_audio(out)
    assert rate == AUDIO_SAMPLE_RATE and samples.shape[1] == 2
    assert abs(len(samples) / rate - 2.0) <= ONE_AAC_FRAME_S, "decoded, priming and padding included"
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_sound_survives_coding(tmp_path: Path) -> None:
    out = tmp_path / "av.mp4"
    encode_frames(frames(48), out, WIDTH, HEIGHT, audio=tone(2.0, hz=1000))
    samples, rate = decode_audio(out)
    middle = samples[rate // 2 : rate + rate // 2, 0]
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.fft.rfftfreq(len(middle), 1 / rate)[np.argmax(spectrum)] == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.25 / np.sqrt(2), rel=0.05)


def test_same_frames_and_sound_give_byte_identical_files(tmp_path: Path) -> None:
    digests = set()
    for name in ("a.mp4", "b.mp4"):
        encode_frames(frames(30), tmp_path / name, WIDTH, HEIGHT, audio=tone(1.25), metadata={"seed": "1"})
        digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert len(digests) == 1


def test_metadata_tags_are_written(tmp_path: Path) -> None:
    out = tmp_path / "tagged.mp4"
    tags = {"comment": "AI-generated video", "ai_generated": "true", "generator_seed": "42"}
    encode_frames(frames(12), out, WIDTH, HEIGHT, metadata=tags)
    with av.open(str(out)) as container:
        assert tags.items() <= container.metadata.items()


def test_the_frame_filter_sees_every_frame_before_encoding(tmp_path: Path) -> None:
    seen = []

    def paint_white(frame: np.ndarray) -> np.ndarray:
        seen.append(frame.shape)
        return np.full_like(frame, 255)

    out = tmp_path / "filtered.mp4"
    encode_frames(frames(10), out, WIDTH, HEIGHT, frame_filter=paint_white)
    assert len(seen) == 10
    with av.open(str(out)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first.mean() > 250


def test_bad_audio_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="float32"):
        VideoEncoder(tmp_path / "x.mp4", WIDTH, HEIGHT, audio=np.zeros((100, 2)))
    with pytest.raises(ValueError, match=r"\(samples, 2\)"):
        VideoEncoder(tmp_path / "x.mp4", WIDTH, HEIGHT, audio=np.zeros((100, 1), np.float32))
    assert list(tmp_path.iterdir()) == []
