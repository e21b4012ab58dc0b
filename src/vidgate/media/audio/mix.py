"""Putting the sound together: speech placed with the keyframes, music ducked under it, one master.

Speech is never cut. Each line starts with the keyframe (the image) it belongs to, or as soon after
as the previous line allows; if all lines do not fit in the video, they are spoken faster, up to
a limit; past that the request is refused at submit (`SpeechDoesNotFit`), before any work is done.

The master is loudness-normalised to -16 LUFS integrated (ITU-R BS.1770-4, via pyloudnorm) with true
peaks held under -1 dBTP by a look-ahead limiter measured on 4x oversampled audio. The limiter aims a
little lower (-1.5 dBTP) because AAC coding moves peaks slightly. The result is rounded to the 16-bit
grid: rounding hides last-bit floating-point differences between CPUs, so the encoder gets the same
samples, and so the same bytes, from the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from vidgate.media.audio import dsp
from vidgate.media.audio.dsp import SAMPLE_RATE, seconds_to_samples

TARGET_LUFS = -16.0
TRUE_PEAK_CEILING_DBTP = -1.0
LIMITER_CEILING_DBTP = -1.5  # headroom for the AAC encoder's overshoot
LOUDNESS_TOLERANCE_LU = 0.1
LEAD_IN_S = 0.2  # silence before the first word
TAIL_S = 0.15  # silence after the last word
GAP_S = 0.3  # between two lines
SPEED_STEP = 1.03  # a little faster than strictly needed: eSpeak's pauses do not scale exactly
# No voice reads faster than this many letters or digits a second at normal speed (the fastest
# measured, English polysyllables, is ~17): more than that cannot fit, and is refused unspoken.
MAX_LETTERS_PER_SECOND = 25.0
DUCK_DB = -10.0  # music level under speech
DUCK_ATTACK_S, DUCK_RELEASE_S = 0.08, 0.45
# Stem levels before the master gain: speech on top, music under it, ambience a bed below both.
SPEECH_LUFS, MUSIC_LUFS, AMBIENCE_LUFS = -18.0, -21.0, -30.0


class SpeechDoesNotFit(ValueError):
    """The lines need more time than the video has, even at the fastest allowed speed."""

    def __init__(self, needed_s: float, available_s: float, max_speed: float) -> None:
        super().__init__(
            f"the spoken text needs {needed_s:.1f} s even at {max_speed:g}x speed, but the video has "
            f"{available_s:.1f} s for speech; shorten the quoted text or raise duration"
        )
        self.needed_s, self.available_s, self.max_speed = needed_s, available_s, max_speed


@dataclass(frozen=True)
class Dialogue:
    lines: list[np.ndarray]  # mono float64 at SAMPLE_RATE, one per line
    starts_s: list[float]
    speed: float

    def track(self, n: int) -> np.ndarray:
        out = np.zeros(n)
        for line, start in zip(self.lines, self.starts_s, strict=True):
            dsp.add_at(out, line, seconds_to_samples(start))
        return out


def needed_seconds(lengths_s: list[float]) -> float:
    return LEAD_IN_S + sum(lengths_s) + GAP_S * (len(lengths_s) - 1) + TAIL_S


def place_lines(lengths_s: list[float], duration_s: float, keyframes: int) -> list[float]:
    """Start times: line i belongs to keyframe floor(i * keyframes / lines) and starts with it,
    or after the previous line plus a gap; then lines are pulled earlier only as far as needed
    for the last one to end before the video does. Assumes the lines fit (see `needed_seconds`)."""
    count = len(lengths_s)
    segment_s = duration_s / max(1, keyframes)
    starts: list[float] = []
    for i in range(count):
        anchor = (i * keyframes // count) * segment_s + LEAD_IN_S
        earliest = starts[-1] + lengths_s[i - 1] + GAP_S if starts else LEAD_IN_S
        starts.append(max(anchor, earliest))
    latest = duration_s - TAIL_S
    for i in range(count - 1, -1, -1):
        latest -= lengths_s[i]
        starts[i] = min(starts[i], latest)
        latest = starts[i] - GAP_S
    return starts


def plan_dialogue(
    texts: list[str],
    speak: Callable[[str, float], np.ndarray],
    duration_s: float,
    keyframes: int,
    max_speed: float,
) -> Dialogue:
    """Speak `texts` (via `speak(text, speed)`) fast enough to fit, and place them in time."""
    available = duration_s - LEAD_IN_S - TAIL_S
    gaps = GAP_S * (len(texts) - 1)
    letters = sum(char.isalnum() for text in texts for char in text)
    fastest = MAX_LETTERS_PER_SECOND * max_speed
    if letters / fastest + gaps > available:
        # Hopeless at any allowed speed: say so without synthesising (this runs on the API's threads).
        raise SpeechDoesNotFit(letters / fastest + gaps, available, max_speed)
    speed = 1.0
    while True:
        lines = [speak(text, speed) for text in texts]
        lengths = [len(line) / SAMPLE_RATE for line in lines]
        needed = needed_seconds(lengths)
        if needed <= duration_s:
            return Dialogue(lines, place_lines(lengths, duration_s, keyframes), speed)
        if speed >= max_speed:
            raise SpeechDoesNotFit(needed - LEAD_IN_S - TAIL_S, available, max_speed)
        # Speech time scales with 1/speed; the fixed lead-in, gaps and tail do not.
        spoken = sum(lengths)
        room = duration_s - (needed - spoken)
        wanted = speed * spoken / room * SPEED_STEP if room > 0 else max_speed
        speed = round(min(max_speed, max(wanted, speed * SPEED_STEP)), 3)


def duck_gain(speech: np.ndarray, depth_db: float = DUCK_DB) -> np.ndarray:
    """A sidechain gain for the music: down by `depth_db` while speech is heard, released slowly.
    Look-ahead (the envelope is shifted earlier by the attack) so the first word is never masked."""
    if not np.any(speech):
        return np.ones(len(speech))
    window = seconds_to_samples(0.02)
    # The running mean can dip a hair below zero in floating point; the square root must not see it.
    level = np.sqrt(np.maximum(ndimage.uniform_filter1d(speech**2, window), 0.0))
    active = (level > 10 ** (-40 / 20)).astype(float)
    attack, release = seconds_to_samples(DUCK_ATTACK_S), seconds_to_samples(DUCK_RELEASE_S)
    # Held from `attack` before each active sample to `release` after it.
    held = ndimage.maximum_filter1d(active, size=attack + release + 1, origin=(release - attack) // 2)
    smooth = ndimage.uniform_filter1d(held, attack)
    return dsp.db_gain(depth_db) ** smooth


def mix_stems(
    n: int,
    speech: np.ndarray | None,
    music: np.ndarray | None,
    ambience: np.ndarray | None,
) -> np.ndarray:
    """Sum the stems at their levels (speech mono, the others stereo) and master the result."""
    out = np.zeros((n, 2))
    if speech is not None:
        out += dsp.pan(dsp.normalise_loudness(speech, SPEECH_LUFS), 0.0)
    if music is not None:
        level = dsp.normalise_loudness(music, MUSIC_LUFS)
        if speech is not None:
            level = level * duck_gain(speech)[:, None]
        out += level
    if ambience is not None:
        # A bed on its own is the whole soundtrack; under speech or music it sits well below them.
        alone = speech is None and music is None
        out += ambience if alone else dsp.normalise_loudness(ambience, AMBIENCE_LUFS)
    return master(out)


def _true_peaks(x: np.ndarray) -> np.ndarray:
    """Per sample, the highest absolute value of either channel oversampled 4x (BS.1770-4 Annex 2)."""
    envelope = np.zeros(len(x))
    for channel in x.T:  # channel by channel: contiguous, and no reductions over a tiny axis
        upsampled = np.abs(signal.resample_poly(channel, 4, 1))
        phases = np.maximum(np.maximum(upsampled[0::4], upsampled[1::4]), upsampled[2::4])
        envelope = np.maximum(envelope, np.maximum(phases, upsampled[3::4]))
    return envelope


def true_peak_dbtp(x: np.ndarray) -> float:
    """True peak in dBTP: the sample peak of the signal oversampled 4x."""
    peak = float(np.max(_true_peaks(x))) if len(x) else 0.0
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def _limit(x: np.ndarray, ceiling_dbtp: float) -> tuple[np.ndarray, float]:
    """Look-ahead peak limiter: a gain that is at most ceiling/peak around every over-ceiling true
    peak, reached over 2.5 ms before it and released over 2.5 ms after (min filter, then box
    smoothing). Returns the limited signal and the input's true peak (dBTP)."""
    peaks = _true_peaks(x)
    needed = np.minimum(1.0, dsp.db_gain(ceiling_dbtp) / np.maximum(peaks, 1e-12))
    window = seconds_to_samples(0.0025)
    gain = ndimage.uniform_filter1d(ndimage.minimum_filter1d(needed, 2 * window + 1), window)
    return x * gain[:, None], 20 * np.log10(max(float(np.max(peaks)), 1e-12))


def master(x: np.ndarray) -> np.ndarray:
    """-16 LUFS integrated, true peak under the ceiling, rounded to 16-bit steps, as float32."""
    loudness = dsp.loudness_lufs(x)
    if not np.isfinite(loudness):
        return np.zeros(x.shape, np.float32)
    gain_db = TARGET_LUFS - loudness
    for _ in range(3):  # limiting lowers loudness: raise the gain by what it took, limit again
        out, _peak = _limit(x * dsp.db_gain(gain_db), LIMITER_CEILING_DBTP)
        shortfall = TARGET_LUFS - dsp.loudness_lufs(out)
        if abs(shortfall) < LOUDNESS_TOLERANCE_LU:
            break
        gain_db += shortfall
    # Smoothing keeps the limiter's gain a hair above need at a few peaks; trade that loudness away.
    excess = true_peak_dbtp(out) - LIMITER_CEILING_DBTP
    if excess > 0:
        out = out * dsp.db_gain(-excess)
    # Steps of 1/32768, a power of two: exactly representable in float32.
    return (np.clip(np.round(out * 32768), -32768, 32767) / 32768).astype(np.float32)
