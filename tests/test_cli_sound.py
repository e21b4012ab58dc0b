"""`vidgate generate` with sound and marks: the same soundtrack and watermark path as the worker."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from support.media import make_image, probe
from vidgate.cli import app


@pytest.fixture
def photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path / "var"))
    image = tmp_path / "photo.png"
    image.write_bytes(make_image(640, 360))
    return image


def generate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["generate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_generate_with_sound_and_watermark(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    code, stdout, stderr = generate(
        str(photo), "--prompt", 'a calm lake. She says "hello"', "--duration", "1", "--resolution", "540p",
        "--bgm", "--audio", "--voice-id", "French_Calm_Man", "--watermark", "--seed", "4", "-o", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["voice_id_used"] == "French_Calm_Man" and summary["music_mood"] == "calm"
    assert probe(out)["audio_streams"] == 1
    with av.open(str(out)) as container:
        assert container.metadata["generator_seed"] == "4"


def test_generate_refuses_speech_that_cannot_fit(photo: Path, tmp_path: Path) -> None:
    long_line = '"' + "words that keep going and going " * 6 + '"'
    code, _, stderr = generate(
        str(photo), "--prompt", long_line, "--duration", "1", "--audio", "-o", str(tmp_path / "x.mp4")
    )
    assert code == 2 and "INVALID_REQUEST_BODY" in stderr and "shorten" in stderr
    assert not (tmp_path / "x.mp4").exists()
