"""The voice catalogue as data: the voices `GET /v3/voices` lists, with what eSpeak NG needs to
speak each. Outside `vidgate.media` and free of imports on purpose: settings validate
`VIDGATE_DEFAULT_VOICE` against it without importing media code (tests/test_layering.py holds it);
`vidgate.media.audio.voices` maps requested ids onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Gender = Literal["female", "male"]
Age = Literal["young", "adult", "senior"]


@dataclass(frozen=True)
class Voice:
    id: str
    language: str  # BCP 47 tag
    language_name: str
    gender: Gender
    age: Age
    espeak: str  # eSpeak NG voice name + variant
    pitch: int  # eSpeak pitch, 0..100 (50 = the voice's own)
    rate: int  # words per minute at normal speed
    description: str

    @property
    def base_language(self) -> str:
        return self.language.split("-")[0]


# The first voice of each language is that language's default.
CATALOGUE: tuple[Voice, ...] = (
    Voice("English_Warm_Woman", "en-US", "English", "female", "adult", "en-us+f3", 52, 165,
          "American English, warm and clear; the default voice"),
    Voice("English_Calm_Man", "en-US", "English", "male", "adult", "en-us+m3", 45, 160,
          "American English, calm mid-range"),
    Voice("English_Bright_Girl", "en-US", "English", "female", "young", "en-us+f5", 68, 172,
          "American English, light and lively"),
    Voice("English_Deep_Narrator", "en-US", "English", "male", "senior", "en-us+m7", 30, 150,
          "American English, low and slow, for narration"),
    Voice("English_British_Lady", "en-GB", "English", "female", "adult", "en+f4", 55, 160,
          "British English, poised"),
    Voice("English_British_Gentleman", "en-GB", "English", "male", "adult", "en+m1", 42, 158,
          "British English, measured"),
    Voice("Chinese (Mandarin)_Gentle_Woman", "zh-CN", "Chinese (Mandarin)", "female", "adult", "cmn+f2", 55,
          165, "Mandarin Chinese, gentle"),
    Voice("Chinese (Mandarin)_Steady_Man", "zh-CN", "Chinese (Mandarin)", "male", "adult", "cmn+m2", 45, 160,
          "Mandarin Chinese, steady"),
    Voice("Japanese_Soft_Woman", "ja-JP", "Japanese", "female", "adult", "ja+f2", 58, 165,
          "Japanese, soft"),
    Voice("Japanese_Calm_Man", "ja-JP", "Japanese", "male", "adult", "ja+m1", 44, 160, "Japanese, calm"),
    Voice("Korean_Bright_Woman", "ko-KR", "Korean", "female", "adult", "ko+f3", 58, 165, "Korean, bright"),
    Voice("Spanish_Warm_Woman", "es-ES", "Spanish", "female", "adult", "es+f3", 54, 170, "Spanish, warm"),
    Voice("Spanish_Steady_Man", "es-ES", "Spanish", "male", "adult", "es+m3", 44, 165, "Spanish, steady"),
    Voice("French_Elegant_Woman", "fr-FR", "French", "female", "adult", "fr+f4", 56, 165, "French, elegant"),
    Voice("French_Calm_Man", "fr-FR", "French", "male", "adult", "fr+m1", 44, 160, "French, calm"),
    Voice("German_Clear_Woman", "de-DE", "German", "female", "adult", "de+f2", 55, 160, "German, clear"),
    Voice("German_Deep_Man", "de-DE", "German", "male", "adult", "de+m3", 38, 155, "German, deep"),
    Voice("Portuguese (Brazil)_Bright_Woman", "pt-BR", "Portuguese (Brazil)", "female", "adult", "pt-br+f3",
          56, 170, "Brazilian Portuguese, bright"),
    Voice("Italian_Warm_Man", "it-IT", "Italian", "male", "adult", "it+m1", 46, 165, "Italian, warm"),
    Voice("Russian_Calm_Man", "ru-RU", "Russian", "male", "adult", "ru+m2", 44, 160, "Russian, calm"),
    Voice("Hindi_Soft_Woman", "hi-IN", "Hindi", "female", "adult", "hi+f2", 56, 160, "Hindi, soft"),
    Voice("Arabic_Calm_Man", "ar", "Arabic", "male", "adult", "ar+m1", 44, 155, "Arabic, calm"),
)  # fmt: skip
DEFAULT_VOICE_ID = CATALOGUE[0].id
BY_ID = {voice.id: voice for voice in CATALOGUE}
