"""The voice catalogue (`GET /v3/voices`) and how a requested `voice_id` becomes one of its voices.

Drop-in clients send upstream voice ids we cannot know in full: system voices such as
`English_Graceful_Lady`, `Chinese (Mandarin)_Warm_Girl` or `male-qn-qingse`, and users' cloned voices.
A catalogue id is used exactly. Any other id is read for language, gender and age words and mapped to
the closest catalogue voice; an id with neither language nor gender words gets the default voice.
When no language is named, the script of the text to speak decides it (Chinese characters are not
read by an English voice). Pure Python, no numpy: the API imports it. The catalogue itself is data in
`vidgate.voices_catalogue`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from vidgate.voices_catalogue import BY_ID, CATALOGUE, DEFAULT_VOICE_ID, Age, Gender, Voice

Match = Literal["exact", "mapped", "default"]


# Words (after splitting an id into lower-case words) that name a language. Two-letter codes count
# only as whole words; "it" is left out, it is too common an English word.
LANGUAGE_WORDS: dict[str, str] = {
    **dict.fromkeys(["english", "en", "eng", "american", "us", "usa", "british", "uk", "gb", "australian"],
                    "en"),
    **dict.fromkeys(["chinese", "mandarin", "zh", "cn", "cmn", "putonghua", "cantonese"], "zh"),
    **dict.fromkeys(["japanese", "ja", "jp"], "ja"),
    **dict.fromkeys(["korean", "ko", "kr"], "ko"),
    **dict.fromkeys(["spanish", "es", "espanol", "castilian", "mexican", "latino"], "es"),
    **dict.fromkeys(["french", "fr", "francais"], "fr"),
    **dict.fromkeys(["german", "de", "deutsch"], "de"),
    **dict.fromkeys(["portuguese", "pt", "brazilian", "br", "portugues"], "pt"),
    **dict.fromkeys(["italian", "italiano"], "it"),
    **dict.fromkeys(["russian", "ru"], "ru"),
    **dict.fromkeys(["hindi", "hi"], "hi"),
    **dict.fromkeys(["arabic", "ar"], "ar"),
}  # fmt: skip
REGION_WORDS = {"british": "en-GB", "uk": "en-GB", "gb": "en-GB", "american": "en-US", "us": "en-US"}
GENDER_WORDS: dict[str, Gender] = {
    **dict.fromkeys(
        ["female", "woman", "women", "lady", "ladies", "girl", "girls", "she", "her", "mother", "mom", "mum",
         "sister", "wife", "queen", "princess", "grandma", "grandmother", "aunt", "aunty", "madam", "miss",
         "mrs", "ms", "f", "fem", "nv", "shaonv", "yujie", "chengshu", "tianmei", "nvsheng"],
        "female",
    ),
    **dict.fromkeys(
        ["male", "man", "men", "gentleman", "gentlemen", "boy", "boys", "guy", "he", "his", "father", "dad",
         "brother", "husband", "king", "prince", "grandpa", "grandfather", "uncle", "sir", "mr", "lad", "m",
         "qn", "nan", "nansheng", "qingnian", "badao", "jingying", "qingse"],
        "male",
    ),
}  # fmt: skip
AGE_WORDS: dict[str, Age] = {
    **dict.fromkeys(["girl", "boy", "young", "youth", "teen", "kid", "child", "cute", "little", "lovely",
                     "qn", "shaonv", "bright", "lively"], "young"),
    **dict.fromkeys(["old", "elder", "elderly", "senior", "grandma", "grandpa", "grandmother",
                     "grandfather", "aged", "wise", "narrator", "deep", "chengshu"], "senior"),
}  # fmt: skip

# Scripts a Latin-alphabet voice cannot read, and the language that reads each.
SCRIPT_LANGUAGES = (
    ("CJK UNIFIED", "zh"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CYRILLIC", "ru"),
    ("ARABIC", "ar"),
    ("DEVANAGARI", "hi"),
)


class UnknownVoice(ValueError):
    """Strict mode: the id is not in the catalogue."""

    def __init__(self, voice_id: str) -> None:
        super().__init__(f"unknown voice_id {voice_id!r}; see GET /v3/voices for the catalogue")
        self.voice_id = voice_id


@dataclass(frozen=True)
class VoiceChoice:
    voice: Voice
    requested: str | None
    match: Match


def split_words(voice_id: str) -> list[str]:
    """`Chinese (Mandarin)_Warm_Girl` -> chinese, mandarin, warm, girl; `EnglishLady2` -> english, lady.
    Letters mixed with digits (`7de3f`, a hash in a cloned voice's id) are no word: they would read
    as "de" or "f" by accident."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", voice_id)
    words = []
    for token in re.findall(r"[^\W_]+", spaced):
        match = re.fullmatch(r"([^\W\d_]+)\d*", token)
        if match:
            words.append(match.group(1).lower())
    return words


def script_language(text: str) -> str | None:
    """The language whose voice should read `text`, judged by its first non-Latin letter."""
    for char in text:
        if not char.isalpha() or char.isascii():
            continue
        name = unicodedata.name(char, "")
        for prefix, language in SCRIPT_LANGUAGES:
            if name.startswith(prefix):
                return language
    return None


def default_for(language: str | None, default_id: str = DEFAULT_VOICE_ID) -> Voice:
    default = BY_ID[default_id]
    if language is None or default.base_language == language:
        return default
    return next((v for v in CATALOGUE if v.base_language == language), default)


def resolve_voice(
    voice_id: str | None, text: str = "", *, strict: bool = False, default_id: str = DEFAULT_VOICE_ID
) -> VoiceChoice:
    """The catalogue voice that speaks for `voice_id` (see the module docstring)."""
    if voice_id in BY_ID:
        return VoiceChoice(BY_ID[voice_id], voice_id, "exact")
    if voice_id is not None and strict:
        raise UnknownVoice(voice_id)
    text_language = script_language(text)
    if voice_id is None:
        return VoiceChoice(default_for(text_language, default_id), None, "default")
    folded = voice_id.casefold()
    for voice in CATALOGUE:
        if voice.id.casefold() == folded:
            return VoiceChoice(voice, voice_id, "mapped")
    words = split_words(voice_id)
    languages = [LANGUAGE_WORDS[w] for w in words if w in LANGUAGE_WORDS]
    genders = [GENDER_WORDS[w] for w in words if w in GENDER_WORDS]
    if not languages and not genders:
        return VoiceChoice(default_for(text_language, default_id), voice_id, "default")
    language = languages[0] if languages else (text_language or BY_ID[default_id].base_language)
    region = next((REGION_WORDS[w] for w in words if w in REGION_WORDS), None)
    ages = [AGE_WORDS[w] for w in words if w in AGE_WORDS]

    def score(voice: Voice) -> int:
        return (
            8 * (voice.base_language == language)
            + 4 * (bool(genders) and voice.gender == genders[0])
            + 2 * (region is not None and voice.language == region)
            + 1 * (bool(ages) and voice.age == ages[0])
        )

    # max() keeps the first of equal scores: catalogue order breaks ties, defaults first.
    return VoiceChoice(max(CATALOGUE, key=score), voice_id, "mapped")
