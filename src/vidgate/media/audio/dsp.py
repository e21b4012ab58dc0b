"""Small signal-processing building blocks shared by the composer, the ambience and the mixer.

Everything works in float64 at `SAMPLE_RATE`; stereo signals are arrays of shape (samples, 2).
Randomness always comes from a `numpy.random.Generator` handed in by the caller, so that a seed
fully decides the sound.
"""

from __future__ import annotations

import functools

import numpy as np
import pyloudnorm
from scipy import signal

SAMPLE_RATE = 48_000


def seconds_to_samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def db_gain(db: float) -> float:
    return 10.0 ** (db / 20)


def lowpass(x: np.ndarray, cutoff_hz: float, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(cutoff_hz, SAMPLE_RATE * 0.45), "lowpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, x, axis=0)


def highpass(x: np.ndarray, cutoff_hz: float, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, cutoff_hz, "highpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, x, axis=0)


def bandpass(x: np.ndarray, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    high_hz = min(high_hz, SAMPLE_RATE * 0.45)
    sos = signal.butter(order, (low_hz, high_hz), "bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, x, axis=0)


def white(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


def pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """1/f noise: white noise through Paul Kellet's economy pinking filter (within 1 dB above 40 Hz)."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    return signal.lfilter(b, a, rng.standard_normal(n)) * 8.0


def brown(rng: np.random.Generator, n: int) -> np.ndarray:
    """1/f^2 noise, a leaky integrator so that it never drifts off."""
    out = signal.lfilter([1.0], [1.0, -0.997], rng.standard_normal(n))
    return out / 12.0


def smooth_random(rng: np.random.Generator, n: int, rate_hz: float, low: float, high: float) -> np.ndarray:
    """A slowly wandering control curve in [low, high]: random points `rate_hz` apart, cosine-joined."""
    points = max(2, int(n / SAMPLE_RATE * rate_hz) + 2)
    values = rng.uniform(low, high, points)
    positions = np.linspace(0, points - 1, n)
    index = np.minimum(positions.astype(int), points - 2)
    frac = positions - index
    ease = (1 - np.cos(np.pi * frac)) / 2
    return values[index] * (1 - ease) + values[index + 1] * ease


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Equal-power pan: -1 is hard left, 0 centre, +1 hard right."""
    angle = (np.clip(position, -1, 1) + 1) * np.pi / 4
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)], axis=-1)


def envelope(
    n: int, attack_s: float, release_s: float, sustain: float = 1.0, decay_s: float = 0.0
) -> np.ndarray:
    """Attack-decay-sustain-release over exactly `n` samples (the release is the last `release_s`)."""
    t = np.arange(n) / SAMPLE_RATE
    env = np.full(n, sustain)
    attack = max(attack_s, 1e-3)
    env = np.where(t < attack, t / attack, env)
    if decay_s > 0:
        in_decay = (t >= attack) & (t < attack + decay_s)
        env = np.where(in_decay, 1 - (1 - sustain) * (t - attack) / decay_s, env)
    release = min(max(release_s, 1e-3), n / SAMPLE_RATE)
    tail = np.clip((n / SAMPLE_RATE - t) / release, 0, 1)
    return env * tail


def decay(n: int, seconds: float, attack_s: float = 0.002) -> np.ndarray:
    """A struck sound's envelope: a click-free attack, then exponential decay (`seconds` to -60 dB)."""
    t = np.arange(n) / SAMPLE_RATE
    return np.minimum(t / attack_s, 1.0) * np.exp(-6.9 * t / seconds)


def fade(x: np.ndarray, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Raised-cosine fade in and out, in place on a copy."""
    out = x.copy()
    n = len(out)
    for length, reverse in ((seconds_to_samples(fade_in_s), False), (seconds_to_samples(fade_out_s), True)):
        length = min(length, n)
        if length <= 0:
            continue
        ramp = (1 - np.cos(np.linspace(0, np.pi, length))) / 2
        if reverse:
            out[n - length :] *= ramp[::-1, None] if out.ndim == 2 else ramp[::-1]
        else:
            out[:length] *= ramp[:, None] if out.ndim == 2 else ramp
    return out


def add_at(buffer: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Mix `sound` into `buffer` from sample `start`, clipping whatever falls outside."""
    if start >= len(buffer) or start + len(sound) <= 0:
        return
    src_from = max(0, -start)
    dst_from = max(0, start)
    count = min(len(sound) - src_from, len(buffer) - dst_from)
    buffer[dst_from : dst_from + count] += sound[src_from : src_from + count]


def reverb(stereo: np.ndarray, rng: np.random.Generator, seconds: float, wet: float) -> np.ndarray:
    """A plain convolution reverb: decorrelated, exponentially decaying, darkening noise per channel."""
    if wet <= 0:
        return stereo
    n = seconds_to_samples(seconds)
    t = np.arange(n) / SAMPLE_RATE
    tail = np.exp(-6.9 * t / seconds)
    out = np.empty_like(stereo)
    for channel in range(2):
        response = lowpass(rng.standard_normal(n), 5000) * tail
        response[: seconds_to_samples(0.012)] = 0  # pre-delay keeps the dry attack clear
        response /= np.sqrt(np.sum(response**2))
        out[:, channel] = signal.fftconvolve(stereo[:, channel], response)[: len(stereo)]
    return stereo * (1 - wet) + out * wet


def resample_to_output(mono: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling of a mono signal from `rate` to `SAMPLE_RATE`."""
    if rate == SAMPLE_RATE:
        return mono
    divisor = np.gcd(SAMPLE_RATE, rate)
    return signal.resample_poly(mono, SAMPLE_RATE // divisor, rate // divisor)


@functools.cache
def _meter() -> pyloudnorm.Meter:
    return pyloudnorm.Meter(SAMPLE_RATE)  # ITU-R BS.1770-4 K-weighting and gating


def loudness_lufs(x: np.ndarray) -> float:
    """Integrated loudness (BS.1770-4) in LUFS; -inf for silence or anything shorter than one block."""
    if len(x) < seconds_to_samples(0.4):
        return float("-inf")
    return float(_meter().integrated_loudness(x))


def normalise_loudness(x: np.ndarray, target_lufs: float) -> np.ndarray:
    """Scale `x` to `target_lufs`; silence stays silence."""
    measured = loudness_lufs(x)
    if not np.isfinite(measured):
        return x
    return x * db_gain(target_lufs - measured)
