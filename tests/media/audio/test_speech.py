"""Spoken lines: which text is speech, and eSpeak NG speaking it offline, reproducibly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from support.audio import pitch_hz
from vidgate.media.audio.dsp import SAMPLE_RATE
from vidgate.media.audio.speech import SpeechEngineError, speech_lines, synthesize
from vidgate.media.audio.voices import BY_ID, CATALOGUE

LINE = "Welcome home, my friend."


def test_quoted_text_is_speech_in_prompt_order() -> None:
    prompt = (
        'She turns and says "Hello there!" while he answers “Good evening.” Zoom in. «Bonsoir» 「こんにちは」'
    )
    assert speech_lines(prompt) == ["Hello there!", "Good evening.", "Bonsoir", "こんにちは"]


def test_text_after_says_is_speech_to_the_end_of_its_line() -> None:
    assert speech_lines("An old man says: we should go home now.\nSlow zoom in.") == [
        "we should go home now."
    ]
    assert speech_lines("The girl whispers:  look   at the stars") == ["look at the stars"]
    assert speech_lines("slow pan left over the sea") == []
    assert speech_lines('she says: "quoted wins"') == ["quoted wins"]
    assert speech_lines('a sign reads "..."') == [], "punctuation alone is not speech"


def test_synthesis_is_offline_48k_trimmed_and_reproducible() -> None:
    voice = BY_ID["English_Warm_Woman"]
    first = synthesize(LINE, voice)
    second = synthesize(LINE, voice)
    assert np.array_equal(first, second), "same text and voice => same samples, every time"
    assert 0.8 < len(first) / SAMPLE_RATE < 3.0
    assert abs(first[0]) < 1e-3 and abs(first[-1]) < 1e-3, "no click at either end"
    assert np.sqrt(np.mean(first**2)) > 0.03


def test_synthesis_does_not_depend_on_the_clock() -> None:
    """eSpeak seeds its noise from time(): the same line a second later must still be identical."""
    voice = BY_ID["English_Calm_Man"]
    before = synthesize(LINE, voice)
    time.sleep(1.0 - time.time() % 1.0 + 0.01)  # into the next second
    assert np.array_equal(before, synthesize(LINE, voice))


def test_two_voices_are_measurably_different() -> None:
    woman = pitch_hz(synthesize(LINE, BY_ID["English_Warm_Woman"]), SAMPLE_RATE)
    man = pitch_hz(synthesize(LINE, BY_ID["English_Calm_Man"]), SAMPLE_RATE)
    assert woman > 1.4 * man > 0, (woman, man)


def test_speed_shortens_without_cutting() -> None:
    voice = BY_ID["English_Calm_Man"]
    normal, fast = synthesize(LINE, voice), synthesize(LINE, voice, speed=1.5)
    assert 0.55 < len(fast) / len(normal) < 0.85


def test_every_catalogue_voice_speaks_its_language() -> None:
    samples = {
        "zh": "你好",
        "ja": "こんにちは",
        "ko": "안녕하세요",
        "ru": "Привет",
        "hi": "नमस्ते",
        "ar": "مرحبا",
    }
    for voice in CATALOGUE:
        audio = synthesize(samples.get(voice.base_language, "Hello"), voice)
        assert len(audio) > 0.2 * SAMPLE_RATE, voice.id


def test_missing_voice_data_is_an_error_not_the_end_of_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eSpeak NG calls exit(1) when its phoneme files are missing; we look before it does."""
    import espeakng_loader

    monkeypatch.setattr(espeakng_loader, "get_data_path", lambda: str(tmp_path))
    with pytest.raises(SpeechEngineError, match="lacks phontab, phonindex, phondata, intonations"):
        synthesize(LINE, BY_ID["English_Warm_Woman"])
