"""The voice catalogue and how upstream voice ids map onto it."""

from __future__ import annotations

import pytest

from vidgate.media.audio.voices import (
    BY_ID,
    CATALOGUE,
    DEFAULT_VOICE_ID,
    UnknownVoice,
    resolve_voice,
    script_language,
    split_words,
)


def test_catalogue_has_a_dozen_voices_in_several_languages_and_both_genders() -> None:
    assert len(CATALOGUE) >= 12
    assert len(BY_ID) == len(CATALOGUE), "ids are unique"
    assert len({v.base_language for v in CATALOGUE}) >= 8
    for language in ("en", "zh", "ja", "es", "fr", "de"):
        assert {v.gender for v in CATALOGUE if v.base_language == language} == {"female", "male"}, language
    assert all(0 <= v.pitch <= 100 and 80 <= v.rate <= 450 for v in CATALOGUE)


def test_a_catalogue_id_is_used_exactly() -> None:
    for voice in CATALOGUE:
        choice = resolve_voice(voice.id, strict=True)
        assert (choice.voice, choice.match) == (voice, "exact")


@pytest.mark.parametrize(
    ("voice_id", "expected"),
    [
        ("English_Graceful_Lady", "English_Warm_Woman"),
        ("English_ManWithDeepVoice", "English_Deep_Narrator"),  # "deep" picks the older voice
        ("British_Old_Man", "English_British_Gentleman"),
        ("Chinese (Mandarin)_Warm_Girl", "Chinese (Mandarin)_Gentle_Woman"),
        ("Chinese (Mandarin)_Reliable_Executive", "Chinese (Mandarin)_Gentle_Woman"),  # language only
        ("Japanese_GentleButler", "Japanese_Soft_Woman"),
        ("Spanish_SophisticatedGentleman", "Spanish_Steady_Man"),
        ("German_Sweet_Lady", "German_Clear_Woman"),
        ("french-male-narrator", "French_Calm_Man"),
        ("male-qn-qingse", "English_Calm_Man"),  # gender only: the default language
        ("presenter_female", "English_Warm_Woman"),
        ("english_warm_woman", "English_Warm_Woman"),  # case differs: closest is itself
    ],
)
def test_other_ids_map_to_the_closest_voice_by_language_and_gender_words(
    voice_id: str, expected: str
) -> None:
    choice = resolve_voice(voice_id)
    assert choice.voice.id == expected
    assert choice.match == "mapped" and choice.requested == voice_id


def test_ids_without_language_or_gender_words_get_the_default_voice() -> None:
    for cloned in ("myClonedVoice2024", "voice-7f3a9c21", "Z123456789", "clone_7de3f0a1"):
        choice = resolve_voice(cloned)
        assert (choice.voice.id, choice.match) == (DEFAULT_VOICE_ID, "default")
    assert resolve_voice(None).voice.id == DEFAULT_VOICE_ID
    assert resolve_voice("clone-abc", default_id="French_Calm_Man").voice.id == "French_Calm_Man"


def test_the_text_decides_the_language_when_the_id_does_not() -> None:
    assert resolve_voice(None, "你好，朋友").voice.id == "Chinese (Mandarin)_Gentle_Woman"
    assert resolve_voice("male-qn-qingse", "你好，朋友").voice.id == "Chinese (Mandarin)_Steady_Man"
    assert resolve_voice("myClone12345", "こんにちは").voice.base_language == "ja"
    assert resolve_voice("English_Graceful_Lady", "你好").voice.id == "English_Warm_Woman", "named wins"
    assert script_language("Привет") == "ru" and script_language("Hello, café") is None


def test_strict_mode_refuses_ids_outside_the_catalogue() -> None:
    with pytest.raises(UnknownVoice, match="/v3/voices"):
        resolve_voice("English_Graceful_Lady", strict=True)
    assert resolve_voice(None, strict=True).match == "default"


def test_ids_split_into_words_like_a_person_reads_them() -> None:
    assert split_words("Chinese (Mandarin)_Warm_Girl") == ["chinese", "mandarin", "warm", "girl"]
    assert split_words("English_ManWithDeepVoice2") == ["english", "man", "with", "deep", "voice"]
    assert split_words("male-qn-qingse") == ["male", "qn", "qingse"]
