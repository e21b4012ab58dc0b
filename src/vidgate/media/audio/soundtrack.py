"""A task's soundtrack from its request: what `bgm` and `audio` ask for, ready for the encoder.

Engine-independent and CPU-only: the worker builds it before rendering, the API uses the same code
at submit to refuse speech that cannot fit (so a task never fails for it later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vidgate.media.audio.ambience import ambience
from vidgate.media.audio.dsp import loudness_lufs, seconds_to_samples
from vidgate.media.audio.mix import Dialogue, mix_stems, plan_dialogue
from vidgate.media.audio.music import compose
from vidgate.media.audio.speech import SpeechDisabled, speech_lines, synthesize
from vidgate.media.audio.voices import DEFAULT_VOICE_ID, VoiceChoice, resolve_voice

if TYPE_CHECKING:
    from vidgate.settings import Settings

__all__ = ["SoundOptions", "Soundtrack", "build_soundtrack", "check_speech"]


@dataclass(frozen=True)
class SoundOptions:
    """The operator's choices (from settings)."""

    default_voice: str = DEFAULT_VOICE_ID
    strict_voices: bool = False
    max_speech_speed: float = 1.5
    speech: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> SoundOptions:
        return cls(settings.default_voice, settings.strict_voices, settings.max_speech_speed, settings.speech)


@dataclass(frozen=True)
class Soundtrack:
    samples: np.ndarray  # float32, (duration x 48 kHz, 2)
    info: dict[str, object]  # for the task result's `extra`


def _dialogue(
    prompt: str, duration_s: float, keyframes: int, voice_id: str | None, options: SoundOptions
) -> tuple[VoiceChoice, Dialogue | None]:
    texts = speech_lines(prompt)
    if texts and not options.speech:
        raise SpeechDisabled()
    choice = resolve_voice(
        voice_id, " ".join(texts), strict=options.strict_voices, default_id=options.default_voice
    )
    if not texts:
        return choice, None
    dialogue = plan_dialogue(
        texts,
        lambda text, speed: synthesize(text, choice.voice, speed),
        duration_s,
        keyframes,
        options.max_speech_speed,
    )
    return choice, dialogue


def check_speech(
    prompt: str, duration_s: float, keyframes: int, voice_id: str | None, options: SoundOptions
) -> None:
    """Raise `SpeechDisabled`, `UnknownVoice` (strict mode) or `SpeechDoesNotFit` now rather than fail
    the task later."""
    _dialogue(prompt, duration_s, keyframes, voice_id, options)


def build_soundtrack(
    prompt: str,
    duration_s: float,
    seed: int,
    keyframes: int,
    *,
    bgm: bool,
    audio: bool,
    voice_id: str | None,
    options: SoundOptions,
) -> Soundtrack | None:
    """The mastered track, or None when neither music nor audio was asked for (no audio stream)."""
    if not (bgm or audio):
        return None
    n = seconds_to_samples(duration_s)
    info: dict[str, object] = {}
    speech = music = bed = None
    if audio:
        choice, dialogue = _dialogue(prompt, duration_s, keyframes, voice_id, options)
        info |= {"voice_id_used": choice.voice.id, "voice_match": choice.match}
        if dialogue is not None:
            speech = dialogue.track(n)
            info |= {"speech_lines": len(dialogue.lines), "speech_speed": dialogue.speed}
        bed, cues = ambience(prompt, duration_s, seed)
        info["ambience"] = cues
    if bgm:
        piece = compose(prompt, duration_s, seed)
        music = piece.samples
        info |= {"music_mood": piece.mood, "music_key": piece.key, "music_tempo_bpm": piece.tempo_bpm}
    samples = mix_stems(n, speech, music, bed)
    info["loudness_lufs"] = round(loudness_lufs(samples), 1)
    return Soundtrack(samples, info)
