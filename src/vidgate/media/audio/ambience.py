"""The sound of the place: a seeded bed of ambience chosen by the prompt's words.

Each cue is a small model built from filtered noise and a few oscillators: rain is a hiss with
scattered drops, waves are swells of low-passed noise, traffic is a rumble with cars passing from one
side to the other, birds are short frequency sweeps, and so on. Cues combine ("rain in the city").
A prompt with no cue gets room tone. Each model is brought to its own loudness (rain louder than
room tone), measured, not guessed; the mixer then sets the bed's level against speech and music.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vidgate.media.audio import dsp
from vidgate.media.audio.dsp import SAMPLE_RATE, seconds_to_samples

Model = Callable[[np.random.Generator, int], np.ndarray]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CUE_WORDS: dict[str, frozenset[str]] = {
    "rain": _words("rain rainy raining drizzle rainfall raindrops downpour storm thunderstorm"),
    "wind": _words("wind windy breeze breezy gust gusts gusty blizzard desert cliff"),
    "sea": _words("sea ocean oceans wave waves beach shore surf coast coastal seaside harbor"),
    "city": _words("city urban street streets traffic cars car downtown highway road avenue"),
    "crowd": _words("crowd crowds people market party audience cafe restaurant festival stadium"),
    "fire": _words("fire campfire fireplace flames flame bonfire burning fireside"),
    "birds": _words("bird birds birdsong songbird songbirds chirping dawn garden spring"),
    "forest": _words("forest woods woodland jungle trees tree leaves grove"),
    "night": _words("night nighttime midnight crickets"),
    "room": _words("room indoor indoors office interior kitchen bedroom hall library studio"),
}
DEFAULT_CUE = "room"
# Loudness of each model in the bed, LUFS: a downpour is louder than a quiet room.
CUE_LOUDNESS = {
    "rain": -24.0, "wind": -26.0, "sea": -24.0, "city": -26.0, "crowd": -27.0,
    "fire": -27.0, "birds": -30.0, "forest": -29.0, "night": -31.0, "room": -34.0,
}  # fmt: skip


def pick_cues(prompt: str) -> list[str]:
    """Cues named by the prompt, in a fixed order; room tone when there are none."""
    words = {w.strip(".,;:!?\"'()[]").lower() for w in prompt.split()}
    cues = [cue for cue, cue_words in CUE_WORDS.items() if words & cue_words]
    return cues or [DEFAULT_CUE]


def ambience(prompt: str, duration_s: float, seed: int) -> tuple[np.ndarray, list[str]]:
    """(stereo float64 bed of exactly `duration_s`, the cues used)."""
    n = seconds_to_samples(duration_s)
    cues = pick_cues(prompt)
    bed = np.zeros((n, 2))
    for index, cue in enumerate(cues):
        rng = np.random.default_rng([seed, 0x616D, index])
        bed += dsp.normalise_loudness(MODELS[cue](rng, n), CUE_LOUDNESS[cue])
    return dsp.fade(bed, min(0.3, duration_s / 10), min(0.5, duration_s / 8)), cues


def _stereo_noise(rng: np.random.Generator, n: int, colour: Model) -> np.ndarray:
    return np.stack([colour(rng, n), colour(rng, n)], axis=-1)


def rain(rng: np.random.Generator, n: int) -> np.ndarray:
    hiss = dsp.bandpass(_stereo_noise(rng, n, dsp.pink), 500, 9000) * 0.35
    hiss *= dsp.smooth_random(rng, n, 0.5, 0.75, 1.0)[:, None]
    drops = np.zeros((n, 2))
    drop_n = seconds_to_samples(0.02)
    bank = dsp.bandpass(rng.standard_normal((drop_n, 8)), 2000, 7000) * dsp.decay(drop_n, 0.015)[:, None]
    for start in rng.integers(0, n, size=int(n / SAMPLE_RATE * 60)):
        drop = bank[:, rng.integers(8)]
        dsp.add_at(drops, dsp.pan(rng.uniform(0.1, 0.4) * drop, rng.uniform(-0.9, 0.9)), int(start))
    return hiss + drops


def wind(rng: np.random.Generator, n: int) -> np.ndarray:
    """Low-passed brown noise whose level and brightness rise and fall with the gusts."""
    gusts = dsp.smooth_random(rng, n, 0.4, 0.25, 1.0)
    dark = dsp.lowpass(_stereo_noise(rng, n, dsp.brown), 400)
    whistle = dsp.bandpass(_stereo_noise(rng, n, dsp.pink), 600, 1400) * 0.15
    return (dark * 2.5 + whistle * gusts[:, None]) * gusts[:, None]


def sea(rng: np.random.Generator, n: int) -> np.ndarray:
    """Waves: swells every 5-9 s that rise slowly, break bright, and wash out."""
    t = np.arange(n) / SAMPLE_RATE
    swell = np.zeros(n)
    start = -rng.uniform(0, 6)
    while start < t[-1] + 1:
        period = rng.uniform(5, 9)
        phase = (t - start) / period
        inside = (phase >= 0) & (phase < 1.4)
        shape = np.where(phase < 0.6, (phase / 0.6) ** 2, np.exp(-(phase - 0.6) * 4))
        swell = np.maximum(swell, np.where(inside, shape, 0))
        start += period
    body = dsp.lowpass(_stereo_noise(rng, n, dsp.pink), 900) * 0.5
    foam = dsp.bandpass(_stereo_noise(rng, n, dsp.white), 2000, 8000) * 0.05
    return (body * (0.25 + swell[:, None])) + foam * swell[:, None] ** 2


def city(rng: np.random.Generator, n: int) -> np.ndarray:
    rumble = dsp.lowpass(_stereo_noise(rng, n, dsp.brown), 250) * 1.5
    cars = np.zeros((n, 2))
    duration_s = n / SAMPLE_RATE
    for _ in range(max(1, int(duration_s / 2.5))):
        pass_s = rng.uniform(2.0, 4.0)
        m = seconds_to_samples(pass_s)
        x = np.linspace(-1, 1, m)
        closeness = 1 / (1 + 6 * x**2)  # loudest as it passes in front
        engine = dsp.bandpass(rng.standard_normal(m), 80, 1500) * closeness
        direction = rng.choice([-1.0, 1.0])
        stereo = np.stack([engine * (1 - direction * x) / 2, engine * (1 + direction * x) / 2], axis=-1)
        start = int(rng.uniform(-pass_s / 2, duration_s - pass_s / 2) * SAMPLE_RATE)
        dsp.add_at(cars, 0.6 * stereo, start)
    if rng.random() < 0.5:  # a distant horn, sometimes
        m = seconds_to_samples(0.35)
        t = np.arange(m) / SAMPLE_RATE
        horn = (np.sin(2 * np.pi * 392 * t) + 0.6 * np.sin(2 * np.pi * 494 * t)) * dsp.envelope(m, 0.02, 0.1)
        horn = dsp.pan(0.05 * dsp.lowpass(horn, 2000), rng.uniform(-0.8, 0.8))
        dsp.add_at(cars, horn, int(rng.integers(n)))
    return rumble + cars


def crowd(rng: np.random.Generator, n: int) -> np.ndarray:
    """Babble: many voice-band noises, each with a syllable-rate (3-6 Hz) on/off rhythm."""
    out = np.zeros((n, 2))
    for _ in range(8):
        syllables = dsp.smooth_random(rng, n, rng.uniform(6, 12), 0.0, 1.0) ** 3
        voice = rng.standard_normal(n) * syllables
        out += dsp.pan(voice, rng.uniform(-0.9, 0.9))
    # One voice-band filter for the whole crowd: the sum of filtered voices is the filtered sum.
    return dsp.bandpass(out, 300, 2500)


def fire(rng: np.random.Generator, n: int) -> np.ndarray:
    roar = dsp.lowpass(_stereo_noise(rng, n, dsp.brown), 300) * 1.2
    hiss = dsp.bandpass(_stereo_noise(rng, n, dsp.pink), 2000, 6000) * 0.04
    crackles = np.zeros((n, 2))
    pop_n = seconds_to_samples(0.015)
    bank = dsp.highpass(rng.standard_normal((pop_n, 8)), 1200)
    for start in rng.integers(0, n, size=int(n / SAMPLE_RATE * 25)):
        m = seconds_to_samples(rng.uniform(0.003, 0.015))
        pop = bank[:m, rng.integers(8)] * dsp.decay(m, m / SAMPLE_RATE)
        dsp.add_at(crackles, dsp.pan(rng.uniform(0.1, 0.6) * pop, rng.uniform(-0.6, 0.6)), int(start))
    return roar + hiss + crackles


def birds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Phrases of 2-6 chirps, each a fast downward or upward sweep between 2 and 6 kHz."""
    out = np.zeros((n, 2))
    time_s = rng.uniform(0, 0.8)
    while time_s < n / SAMPLE_RATE:
        side = rng.uniform(-0.8, 0.8)
        top, bottom = rng.uniform(3500, 6000), rng.uniform(2000, 3200)
        for chirp in range(int(rng.integers(2, 7))):
            m = seconds_to_samples(rng.uniform(0.05, 0.12))
            sweep = np.linspace(top, bottom, m) if chirp % 2 == 0 else np.linspace(bottom, top, m)
            tone = np.sin(2 * np.pi * np.cumsum(sweep) / SAMPLE_RATE) * np.hanning(m)
            dsp.add_at(out, dsp.pan(0.12 * tone, side), seconds_to_samples(time_s))
            time_s += m / SAMPLE_RATE + rng.uniform(0.03, 0.1)
        time_s += rng.uniform(0.5, 2.0)
    return out


def forest(rng: np.random.Generator, n: int) -> np.ndarray:
    leaves = dsp.bandpass(_stereo_noise(rng, n, dsp.pink), 800, 6000) * 0.12
    leaves *= dsp.smooth_random(rng, n, 0.3, 0.3, 1.0)[:, None]
    return leaves + 0.6 * birds(rng, n)


def night(rng: np.random.Generator, n: int) -> np.ndarray:
    """Crickets: 4.5 kHz tone pulses in trains, two insects out of step."""
    out = np.zeros((n, 2))
    t = np.arange(n) / SAMPLE_RATE
    for side in (-0.6, 0.5):
        rate, pitch = rng.uniform(25, 35), rng.uniform(4200, 4800)
        pulses = (np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3)) > 0.3).astype(float)
        trains = (np.sin(2 * np.pi * rng.uniform(0.6, 0.9) * t + rng.uniform(0, 6.3)) > -0.2).astype(float)
        tone = np.sin(2 * np.pi * pitch * t) * dsp.lowpass(pulses * trains, 300)
        out += dsp.pan(0.05 * tone, side)
    return out + 0.5 * room(rng, n)


def room(rng: np.random.Generator, n: int) -> np.ndarray:
    """Room tone: the soft, dark air of a quiet space, with a faint ventilation hum."""
    air = dsp.lowpass(_stereo_noise(rng, n, dsp.pink), 1200) * 0.08
    t = np.arange(n) / SAMPLE_RATE
    hum = 0.004 * np.sin(2 * np.pi * 120 * t)
    return air + hum[:, None]


MODELS: dict[str, Model] = {
    "rain": rain,
    "wind": wind,
    "sea": sea,
    "city": city,
    "crowd": crowd,
    "fire": fire,
    "birds": birds,
    "forest": forest,
    "night": night,
    "room": room,
}
