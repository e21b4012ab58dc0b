"""`GET /v3/voices`, and what submit says about voices and speech that cannot fit."""

from __future__ import annotations

import pytest

from support.api import Api
from support.media import data_uri, make_image

LONG_SPEECH = (
    "She says: " + '"' + "This sentence goes on and on and on, far too long for a single second. " * 3 + '"'
)


def body(**fields: object) -> dict[str, object]:
    return {"images": [data_uri(make_image())], "prompt": "a quiet room", "duration": 2} | fields


def test_the_catalogue_is_public_and_complete(api: Api) -> None:
    response = api.client.get("/v3/voices")  # no key: it names no tenant's data
    assert response.status_code == 200
    doc = response.json()
    ids = [voice["voice_id"] for voice in doc["voices"]]
    assert len(ids) >= 12 and len(set(ids)) == len(ids)
    assert doc["default_voice_id"] in ids and doc["strict"] is False
    first = doc["voices"][0]
    assert set(first) == {"voice_id", "language", "language_name", "gender", "age", "description"}
    assert {voice["gender"] for voice in doc["voices"]} == {"female", "male"}


def test_speech_that_cannot_fit_is_a_400_at_submit(api: Api) -> None:
    response = api.submit(body(audio=True, prompt=LONG_SPEECH, duration=1))
    assert response.status_code == 400
    error = response.json()
    assert error["reason"] == "INVALID_REQUEST_BODY" and error["metadata"]["field"] == "prompt"
    assert "shorten the quoted text or raise duration" in error["message"]
    assert error["metadata"]["speech_seconds"] > error["metadata"]["available_seconds"]
    assert api.submit(body(audio=False, prompt=LONG_SPEECH, duration=1)).status_code == 200, (
        "no audio: no speech"
    )


def test_speech_that_fits_when_spoken_faster_is_accepted(api: Api) -> None:
    prompt = 'He says "We have to leave this place before the sun goes down tonight."'
    assert api.submit(body(audio=True, prompt=prompt, duration=3)).status_code == 200


def test_any_well_formed_voice_id_is_accepted_by_default(api: Api) -> None:
    for voice_id in (
        "English_Graceful_Lady",
        "Chinese (Mandarin)_Warm_Girl",
        "male-qn-qingse",
        "myClone2024",
    ):
        assert api.submit(body(audio=True, voice_id=voice_id)).status_code == 200, voice_id


def test_strict_voices_refuse_unknown_ids_naming_the_catalogue(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.services.settings, "strict_voices", True)
    response = api.submit(body(audio=True, voice_id="English_Graceful_Lady"))
    assert response.status_code == 400
    error = response.json()
    assert error["reason"] == "INVALID_REQUEST_BODY" and error["metadata"]["field"] == "voice_id"
    assert "/v3/voices" in error["message"]
    assert api.submit(body(audio=True, voice_id="English_Calm_Man")).status_code == 200
    assert api.submit(body(audio=False, voice_id="English_Graceful_Lady")).status_code == 200, (
        "voice_id without audio has no effect, as upstream"
    )
    assert api.client.get("/v3/voices").json()["strict"] is True


@pytest.mark.parametrize("voice_id", ["", "v" * 257, "Evil\nVoice", "tab\there"])
def test_malformed_voice_ids_are_always_a_400(api: Api, voice_id: str) -> None:
    response = api.submit(body(audio=True, voice_id=voice_id))
    assert response.status_code == 400 and response.json()["metadata"]["field"] == "voice_id"
