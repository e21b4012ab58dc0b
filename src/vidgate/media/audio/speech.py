"""Spoken dialogue: the lines in a prompt, and eSpeak NG speaking them, offline.

eSpeak NG comes from the `espeakng-loader` wheel, which bundles the shared library and its voice data,
so nothing is installed system-wide. We drive the C API with ctypes in synchronous mode.

Determinism takes three things, each measured: eSpeak keeps static state between utterances (its
waveform phase carries over; re-initialising does not reset it), so every utterance loads the
library, speaks, and unloads it again (dlclose; well under a millisecond). Its breath noise draws on
libc's `rand()`, which `espeak_Initialize` seeds from the clock, so we re-seed libc's generator (and
eSpeak's own, `espeak_ng_SetRandSeed`) after initialising. And eSpeak is not thread-safe: one lock
serialises all of it.
"""

from __future__ import annotations

import _ctypes
import ctypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from vidgate.media.audio.dsp import SAMPLE_RATE, fade, resample_to_output
from vidgate.media.audio.voices import Voice

# From eSpeak NG's speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
CHARS_UTF8 = 1
PARAM_RATE, PARAM_PITCH, PARAM_RANGE = 1, 3, 4
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450

# Quote pairs that mark speech, and verbs whose colon introduces it (`she says: hello`).
QUOTES = re.compile(r'"([^"]+)"|“([^”]+)”|„([^“”]+)[“”]|«([^»]+)»|「([^」]+)」|『([^』]+)』')
SPEECH_VERB = re.compile(r"\b(?:says|said|asks|whispers|shouts)\s*:\s*(.+)", re.IGNORECASE)
SILENCE_LEVEL = 10 ** (-50 / 20)  # below -50 dBFS counts as silence when trimming ends
EDGE_PAD_S = 0.02
CLICK_FADE_S = 0.005

RANDOM_SEED = 1
# espeak_Initialize ends the whole process (exit 1) when one of these is missing, so look first.
ESSENTIAL_DATA_FILES = ("phontab", "phonindex", "phondata", "intonations")

_ESPEAK_LOCK = threading.Lock()
_LIBC = ctypes.CDLL(None)  # the process's C library, whose rand() eSpeak calls
_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class SpeechEngineError(RuntimeError):
    """eSpeak NG could not start or refused a voice: an installation fault, not a user error."""


class SpeechDisabled(ValueError):
    """The prompt has text to speak, and this deployment runs with speech off (VIDGATE_SPEECH)."""

    def __init__(self) -> None:
        super().__init__(
            "this server runs with speech turned off, so quoted text cannot be spoken; remove the quotes "
            "(or the `says:`), or set audio to false; ambience and bgm still work"
        )


def speech_lines(prompt: str) -> list[str]:
    """The text to speak, in prompt order: each quoted passage, else what follows `says:` on its line."""
    found = ["".join(groups) for groups in (m.groups("") for m in QUOTES.finditer(prompt))]
    if not found:
        found = [m.group(1) for m in SPEECH_VERB.finditer(prompt)]
    lines = [" ".join(line.split()) for line in found]
    return [line for line in lines if any(char.isalnum() for char in line)]


@contextmanager
def _fresh_espeak() -> Iterator[tuple[ctypes.CDLL, int]]:
    """Load, initialise and (on exit) unload the library, under the global lock."""
    # Imported here: with speech off, eSpeak NG (GPL-3.0-or-later) is never loaded, and may be absent.
    import espeakng_loader

    data_folder = Path(espeakng_loader.get_data_path())
    missing = [name for name in ESSENTIAL_DATA_FILES if not (data_folder / name).is_file()]
    if missing:
        raise SpeechEngineError(f"eSpeak NG's data at {data_folder} lacks {', '.join(missing)}")
    with _ESPEAK_LOCK:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        try:
            lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_Synth.argtypes = [
                ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
            ]  # fmt: skip
            rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_folder).encode(), 0)
            if rate <= 0:
                raise SpeechEngineError(f"eSpeak NG failed to initialise (data at {data_folder})")
            _LIBC.srand(RANDOM_SEED)  # after initialising: it seeds from the clock
            lib.espeak_ng_SetRandSeed(ctypes.c_long(RANDOM_SEED))
            try:
                yield lib, rate
            finally:
                lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)


def synthesize(text: str, voice: Voice, speed: float = 1.0) -> np.ndarray:
    """`text` spoken by `voice` at `speed` times its normal rate: mono float64 at `SAMPLE_RATE`,
    silence trimmed from both ends (never from inside: nothing is ever cut mid-word)."""
    chunks: list[np.ndarray] = []

    def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if wav and count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0 = go on

    callback = _SynthCallback(collect)
    encoded = text.encode("utf-8")
    with _fresh_espeak() as (lib, rate):
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.espeak.encode()) != 0:
            raise SpeechEngineError(f"eSpeak NG has no voice {voice.espeak!r} (catalogue voice {voice.id})")
        words_per_minute = int(np.clip(round(voice.rate * speed), MIN_RATE_WPM, MAX_RATE_WPM))
        lib.espeak_SetParameter(PARAM_RATE, words_per_minute, 0)
        lib.espeak_SetParameter(PARAM_PITCH, voice.pitch, 0)
        lib.espeak_SetParameter(PARAM_RANGE, 50, 0)
        # Plain UTF-8 text: no SSML, no phoneme input, so a prompt cannot inject markup.
        status = lib.espeak_Synth(encoded, len(encoded) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
        if status != 0:
            raise SpeechEngineError(f"eSpeak NG failed to speak (error {status})")
    pcm = np.concatenate(chunks).astype(np.float64) / 32768 if chunks else np.zeros(0)
    return _trim_silence(resample_to_output(pcm, rate))


def _trim_silence(mono: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(mono) > SILENCE_LEVEL)
    if len(loud) == 0:
        return np.zeros(0)
    pad = round(EDGE_PAD_S * SAMPLE_RATE)
    trimmed = mono[max(0, loud[0] - pad) : loud[-1] + pad + 1]
    # eSpeak may start sounding at its first sample: a few milliseconds of fade avoid a click.
    return fade(trimmed, CLICK_FADE_S, CLICK_FADE_S)
