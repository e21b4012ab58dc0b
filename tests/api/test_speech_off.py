"""`VIDGATE_SPEECH=false`: text to speak is a 400 at submit; ambience and music still render, without
eSpeak NG ever being loaded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.api import Api
from support.media import data_uri, make_image
from vidgate.cli import app
from vidgate.tasks.model import TaskStatus
from vidgate.worker.runner import Worker

SPOKEN = 'A rainy street. She says: "We should go home now."'


def body(**fields: object) -> dict[str, object]:
    return {"images": [data_uri(make_image())], "prompt": "rain on a quiet street", "duration": 1} | fields


@pytest.fixture
def speech_off(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setattr(api.services.settings, "speech", False)
    return api


@pytest.mark.parametrize("prompt", [SPOKEN, "A man at a desk. He says: good morning"])
def test_text_to_speak_is_a_400_naming_the_setting_off(speech_off: Api, prompt: str) -> None:
    response = speech_off.submit(body(audio=True, prompt=prompt))
    assert response.status_code == 400
    error = response.json()
    assert error["reason"] == "INVALID_REQUEST_BODY"
    assert error["metadata"] == {"field": "prompt", "speech": "off"}
    assert "speech turned off" in error["message"] and "ambience and bgm still work" in error["message"]


def test_quotes_without_audio_and_audio_without_quotes_are_accepted(speech_off: Api) -> None:
    assert speech_off.submit(body(bgm=True, prompt=SPOKEN)).status_code == 200, "no audio: nothing to speak"
    assert speech_off.submit(body(audio=True, bgm=True)).status_code == 200


def test_ambience_and_music_render_with_espeak_absent(
    speech_off: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # importing it now raises ImportError
    task_id = speech_off.submit(body(audio=True, bgm=True, seed=3)).json()["task_id"]
    s = speech_off.services
    assert Worker(s.settings, s.store, s.objects).run_once()
    task = s.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED, task
    assert task.result_info["ambience"] and "music_mood" in task.result_info
    assert "speech_lines" not in task.result_info


def test_a_task_queued_with_speech_on_fails_clearly_once_it_is_off(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = api.submit(body(audio=True, prompt=SPOKEN, duration=2)).json()["task_id"]
    monkeypatch.setattr(api.services.settings, "speech", False)
    s = api.services
    assert Worker(s.settings, s.store, s.objects).run_once()
    task = s.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.FAILED
    assert task.reason.startswith("INVALID_REQUEST_BODY: this server runs with speech turned off")


def test_vidgate_generate_refuses_text_to_speak_with_speech_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDGATE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VIDGATE_SPEECH", "false")
    image = tmp_path / "photo.png"
    image.write_bytes(make_image())
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(
        app, ["generate", str(image), "--prompt", SPOKEN, "--audio", "--duration", "1", "-o", str(out)]
    )
    assert result.exit_code == 2 and not out.exists()
    assert result.stderr.startswith("error: INVALID_REQUEST_BODY: this server runs with speech turned off")
