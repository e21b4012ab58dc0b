"""End to end through the API and a real worker: music, speech in the chosen voice, the watermark and
provenance tags, checked in the decoded MP4s."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from support.api import Api
from support.audio import decode_audio, loudness, pitch_hz, rms_db, stream_seconds, true_peak_dbtp_of
from support.media import data_uri, make_image
from vidgate.media.encode import AAC_FRAME_SAMPLES, AUDIO_SAMPLE_RATE
from vidgate.media.watermark import Watermark
from vidgate.worker.runner import Worker

PROMPT = 'A rainy city street at night. She says: "We should go home now."'
SPEECH_WINDOW_S = (0.25, 1.2)  # the line starts 0.2 s in and lasts about a second


def render(api: Api, **fields: Any) -> tuple[dict[str, Any], Path]:
    body = {
        "images": [data_uri(make_image(960, 540))],
        "prompt": PROMPT,
        "duration": 2,
        "resolution": "540p",
        "seed": 7,
    } | fields
    response = api.submit(body)
    assert response.status_code == 200, response.json()
    task_id = response.json()["task_id"]
    s = api.services
    assert Worker(s.settings, s.store, s.objects).run_once()
    doc = api.result(task_id).json()
    assert doc["task"]["status"] == "TASK_STATUS_SUCCEED", doc["task"]
    task = s.store.get_task(task_id)
    assert task is not None and task.output_key
    path = s.objects.local_path(task.output_key)
    assert path is not None
    return doc, path


def frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def window(samples: np.ndarray, rate: int) -> np.ndarray:
    start, end = (round(s * rate) for s in SPEECH_WINDOW_S)
    return samples[start:end].mean(axis=1)


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path]]:
    """Five tasks, rendered once for the whole module: the checks below read them."""
    from fastapi.testclient import TestClient

    from vidgate.app import build_services, create_app
    from vidgate.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("var"), _env_file=None)  # type: ignore[call-arg]
    services = build_services(settings)
    _record, key = services.store.keys.create("sound")
    with TestClient(create_app(settings, services)) as client:
        api = Api(client, services, key, {"Authorization": f"Bearer {key}"})
        results = {
            "full": render(api, bgm=True, audio=True, voice_id="English_Graceful_Lady", watermark=True),
            "full_again": render(api, bgm=True, audio=True, voice_id="English_Graceful_Lady", watermark=True),
            "male": render(api, audio=True, voice_id="male-qn-qingse"),
            "music": render(api, bgm=True, duration=1),
            "plain": render(api, duration=1),
        }
        # Copies: the module's services (and their folder) go away with this block.
        kept = tmp_path_factory.mktemp("kept")
        for name, (doc, path) in list(results.items()):
            copy = kept / f"{name}.mp4"
            copy.write_bytes(path.read_bytes())
            results[name] = (doc, copy)
        return results


def test_an_audio_stream_iff_bgm_or_audio(renders: dict[str, tuple[dict[str, Any], Path]]) -> None:
    for name, expected in (("full", True), ("male", True), ("music", True), ("plain", False)):
        assert ("audio" in stream_seconds(renders[name][1])) is expected, name


def test_audio_lasts_as_long_as_the_video(renders: dict[str, tuple[dict[str, Any], Path]]) -> None:
    for name in ("full", "male", "music"):
        seconds = stream_seconds(renders[name][1])
        assert abs(seconds["audio"] - seconds["video"]) <= AAC_FRAME_SAMPLES / AUDIO_SAMPLE_RATE, name


def test_the_mix_is_at_minus_16_lufs_without_overs(renders: dict[str, tuple[dict[str, Any], Path]]) -> None:
    for name in ("full", "male", "music"):
        doc, path = renders[name]
        samples, rate = decode_audio(path)
        samples = samples[: round(stream_seconds(path)["video"] * rate)]
        assert loudness(samples, rate) == pytest.approx(-16.0, abs=1.0), name
        assert true_peak_dbtp_of(samples) <= -1.0, name
        assert doc["extra"]["loudness_lufs"] == pytest.approx(-16.0, abs=0.5)


def test_speech_is_heard_in_the_voice_asked_for(renders: dict[str, tuple[dict[str, Any], Path]]) -> None:
    full_doc, full_path = renders["full"]
    male_doc, male_path = renders["male"]
    assert full_doc["extra"]["voice_id_used"] == "English_Warm_Woman"
    assert male_doc["extra"]["voice_id_used"] == "English_Calm_Man"
    assert full_doc["extra"]["voice_match"] == male_doc["extra"]["voice_match"] == "mapped"
    assert full_doc["extra"]["speech_lines"] == 1 and full_doc["extra"]["ambience"] == [
        "rain",
        "city",
        "night",
    ]
    assert full_doc["extra"]["music_mood"] == "city", "city and street outnumber rainy"
    woman, rate = decode_audio(full_path)
    man, _ = decode_audio(male_path)
    assert rms_db(window(woman, rate)) > -30, "the speech window is not silent"
    assert rms_db(window(woman, rate)) > rms_db(woman[-rate // 4 :]) + 6, "speech stands out of the bed"
    assert pitch_hz(window(woman, rate), rate) > 1.3 * pitch_hz(window(man, rate), rate) > 0


def test_same_request_same_bytes_with_sound_and_watermark(
    renders: dict[str, tuple[dict[str, Any], Path]],
) -> None:
    first, second = (hashlib.sha256(renders[n][1].read_bytes()).hexdigest() for n in ("full", "full_again"))
    assert first == second


def test_the_watermark_changes_its_corner_and_nothing_else(
    renders: dict[str, tuple[dict[str, Any], Path]],
) -> None:
    """Same seed and move, with and without the mark, compared after decoding. The frames handed to
    the encoder differ only in the corner (tests/media/test_watermark.py checks that exactly); after
    lossy coding the rest differs by coding noise only: x264 picks each frame's quantiser from the
    whole frame's complexity, so a mark shifts it by a fraction of a step everywhere. The prompt's
    rain falls in both (scene motion, the same seeded streaks): fine texture the coder spends on, so
    its noise is up to ~3 levels here; the mark stays four times above it."""
    marked, unmarked = frames(renders["full"][1]), frames(renders["male"][1])
    height, width = marked.shape[1:3]
    x0, y0, x1, y1 = Watermark().region(width, height)
    diff = np.abs(marked.astype(np.int16) - unmarked.astype(np.int16)).mean(axis=3)
    inside = diff[:, y0:y1, x0:x1].mean(axis=(1, 2))
    away = np.ones((height, width), bool)
    away[max(0, y0 - 16) :, max(0, x0 - 16) :] = False
    outside = diff[:, away].mean(axis=1)
    assert inside.min() > 6, "the mark is visible on every frame"
    assert outside[0] < 0.05, "the first (intra) frame is the same away from the mark"
    assert outside.max() < 3.5 and inside.mean() > 4 * outside.mean(), "elsewhere, coding noise only"


def test_every_output_says_it_is_machine_generated(renders: dict[str, tuple[dict[str, Any], Path]]) -> None:
    for name in ("full", "plain"):
        with av.open(str(renders[name][1])) as container:
            tags = container.metadata
        assert tags["ai_generated"] == "true" and tags["generator_engine"] == "motion"
        assert tags["generator_seed"] == "7" and "AI-generated" in tags["comment"]
