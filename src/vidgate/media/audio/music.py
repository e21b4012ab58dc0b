"""Background music, composed for each video: no samples, no downloads, numpy synthesis only.

The prompt's mood words pick a style (tempo range, mode, chord progressions, drum groove, lead
instrument); the seed picks the key, tempo, progression, arpeggio shape and melody within it. A piece is
a loop of one-bar chords with a pad, a bass line, an arpeggio or melody and drums, through a
convolution reverb, cut to the exact length of the video with a fade in and a fade out.
Same prompt + seed => the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidgate.media.audio import dsp
from vidgate.media.audio.dsp import SAMPLE_RATE, seconds_to_samples

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


@dataclass(frozen=True)
class Mood:
    name: str
    cues: frozenset[str]
    tempo: tuple[int, int]  # bpm range
    scale: tuple[int, ...]
    progressions: tuple[tuple[int, ...], ...]  # scale degrees (0 = tonic), one chord per bar
    drums: str  # groove name in GROOVES, or "" for none
    lead: str  # "bell", "epiano", "pluck" or "strings"
    notes_per_beat: int  # arpeggio density; 0 = a melody instead
    bass: str  # "whole", "pulse", "root_fifth" or "walk"
    pad_cutoff_hz: float
    reverb_s: float
    reverb_wet: float
    sevenths: bool


def _cues(text: str) -> frozenset[str]:
    return frozenset(text.split())


MOODS: tuple[Mood, ...] = (
    Mood("calm", _cues("calm peaceful serene gentle relaxing relaxed quiet tranquil soft meadow lake morning "
                       "dreamy soothing"),
         (68, 80), MAJOR, ((0, 4, 5, 3), (0, 5, 3, 4), (3, 0, 4, 5)), "", "bell", 2, "whole", 1800, 2.4, 0.35,
         True),
    Mood("happy", _cues("happy joyful joy cheerful sunny bright fun playful party celebration celebrate "
                        "summer smile smiling dance dancing wedding birthday"),
         (108, 124), MAJOR, ((0, 4, 5, 3), (0, 3, 4, 4), (0, 5, 3, 4)), "pop", "epiano", 2, "root_fifth",
         4000, 1.2, 0.2, False),
    Mood("sad", _cues("sad melancholy melancholic lonely loneliness grief tears crying cry sorrow farewell "
                      "goodbye nostalgic memory memories funeral"),
         (60, 72), MINOR, ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 4)), "", "epiano", 0, "whole", 1500, 2.6,
         0.35, True),
    Mood("epic", _cues("epic heroic hero battle war dramatic majestic grand adventure triumphant mountain "
                       "mountains dragon army glory cinematic storm"),
         (84, 96), MINOR, ((0, 5, 2, 6), (0, 5, 6, 0), (0, 3, 5, 6)), "epic", "strings", 4, "pulse", 3500,
         2.0, 0.3, False),
    Mood("tense", _cues("tense tension suspense suspenseful dark danger dangerous horror scary creepy "
                        "thriller chase fear mystery mysterious ominous threat"),
         (96, 112), HARMONIC_MINOR, ((0, 0, 5, 4), (0, 5, 0, 4), (0, 3, 0, 4)), "pulse", "pluck", 4, "pulse",
         1200, 1.6, 0.3, False),
    Mood("night", _cues("night nighttime midnight moon moonlight stars starry evening dusk nocturnal"),
         (70, 84), DORIAN, ((0, 3, 0, 3), (0, 6, 3, 0), (0, 4, 3, 6)), "soft", "bell", 1, "whole", 1400, 2.5,
         0.35, True),
    Mood("rain", _cues("rain rainy raining drizzle rainfall raindrops"),
         (72, 82), MINOR, ((0, 5, 3, 4), (0, 3, 6, 5), (5, 3, 0, 4)), "lofi", "epiano", 1, "whole", 1600, 1.8,
         0.3, True),
    Mood("city", _cues("city urban street streets downtown neon traffic metropolis skyline cafe subway"),
         (86, 96), DORIAN, ((0, 3, 6, 4), (0, 4, 3, 3), (1, 4, 0, 0)), "lofi", "epiano", 2, "walk", 2500, 1.0,
         0.2, True),
)  # fmt: skip
DEFAULT_MOOD = MOODS[0]

# 16 steps per bar; each lane lists (step, velocity).
Groove = dict[str, tuple[tuple[int, float], ...]]
GROOVES: dict[str, Groove] = {
    "soft": {"kick": ((0, 0.5),), "rim": ((8, 0.3),), "hat": tuple((s, 0.18) for s in range(0, 16, 4))},
    "pop": {
        "kick": ((0, 1.0), (6, 0.6), (8, 0.9)),
        "snare": ((4, 0.8), (12, 0.85)),
        "hat": tuple((s, 0.35 if s % 4 else 0.45) for s in range(0, 16, 2)),
    },
    "epic": {"taiko": ((0, 1.0), (3, 0.6), (8, 0.9), (11, 0.5), (14, 0.7)), "snare": ((8, 0.7),)},
    "pulse": {"kick": tuple((s, 0.7) for s in range(0, 16, 4)), "hat": tuple((s, 0.15) for s in range(16))},
    "lofi": {
        "kick": ((0, 0.9), (7, 0.5), (10, 0.8)),
        "snare": ((4, 0.7), (12, 0.75)),
        "hat": tuple((s, 0.3 if s % 4 else 0.38) for s in range(0, 16, 2)),
    },
}
SWING = {"lofi": 0.3}  # fraction of a 16th that off-beat 16ths are late

# Saw wavetable, band-limited to 24 harmonics: our pads stay below 900 Hz, so nothing aliases.
TABLE_SIZE = 4096
_phase = np.arange(TABLE_SIZE) / TABLE_SIZE
SAW_TABLE = np.sum([np.sin(2 * np.pi * k * _phase) / k for k in range(1, 25)], axis=0) * (2 / np.pi)


@dataclass(frozen=True)
class Piece:
    samples: np.ndarray  # float64, (n, 2)
    mood: str
    key: str
    tempo_bpm: int


NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pick_mood(prompt: str) -> Mood:
    """The mood whose cue words the prompt uses most; ties go to the word that comes first."""
    words = [w.strip(".,;:!?\"'()[]").lower() for w in prompt.split()]
    best, best_key = DEFAULT_MOOD, (0, 0)
    for mood in MOODS:
        positions = [i for i, w in enumerate(words) if w in mood.cues]
        key = (len(positions), -positions[0] if positions else 0)
        if positions and key > best_key:
            best, best_key = mood, key
    return best


def compose(prompt: str, duration_s: float, seed: int) -> Piece:
    mood = pick_mood(prompt)
    rng = np.random.default_rng([seed, 0x6D75])  # a stream of its own, apart from the camera's
    tempo = int(rng.integers(mood.tempo[0], mood.tempo[1] + 1))
    tonic = int(rng.integers(0, 12))
    progression = mood.progressions[int(rng.integers(len(mood.progressions)))]
    beat_s = 60 / tempo
    bar_s = 4 * beat_s
    length = seconds_to_samples(duration_s)
    bars = math.ceil(duration_s / bar_s) + 1
    mix = np.zeros((seconds_to_samples(bars * bar_s + 2.0), 2))
    for bar in range(bars):
        degree = progression[bar % len(progression)]
        chord = _chord(tonic, mood.scale, degree, mood.sevenths)
        start = seconds_to_samples(bar * bar_s)
        dsp.add_at(mix, 0.2 * _pad(chord, bar_s, mood.pad_cutoff_hz, rng), start)
        dsp.add_at(mix, 0.22 * _bass(chord[0], mood, beat_s, rng), start)
        if mood.notes_per_beat:
            dsp.add_at(mix, 0.24 * _arpeggio(chord, mood, beat_s, rng), start)
        else:
            dsp.add_at(mix, 0.3 * _melody(chord, tonic, mood, beat_s, rng), start)
    if mood.drums:
        _drums(mix, GROOVES[mood.drums], beat_s, bars, SWING.get(mood.drums, 0.0), rng)
    mix = dsp.reverb(mix, rng, mood.reverb_s, mood.reverb_wet)
    piece = dsp.fade(mix[:length], min(0.4, duration_s / 8), min(1.5, duration_s / 4))
    modes: dict[tuple[int, ...], str] = {MAJOR: "major", DORIAN: "dorian", HARMONIC_MINOR: "harmonic minor"}
    mode = modes.get(mood.scale, "minor")
    return Piece(piece, mood.name, f"{NOTE_NAMES[tonic]} {mode}", tempo)


def _chord(tonic: int, scale: tuple[int, ...], degree: int, seventh: bool) -> list[int]:
    """MIDI notes of the diatonic chord on `degree`, root first, voiced around middle C."""
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    notes = [48 + tonic + scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in steps]
    return [n - 12 if n >= 64 else n for n in notes[:1]] + notes[1:]


def _osc_saw(freq: float, n: int, detune_cents: float) -> np.ndarray:
    step = freq * 2 ** (detune_cents / 1200) / SAMPLE_RATE
    index = (np.arange(n) * step * TABLE_SIZE).astype(np.int64) % TABLE_SIZE
    return SAW_TABLE[index]


def _pad(chord: list[int], bar_s: float, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Two detuned saws per chord note, one per side, low-passed, swelling in and overlapping the
    next bar so that chord changes are seamless."""
    n = seconds_to_samples(bar_s + 0.6)
    stereo = np.zeros((n, 2))
    for note in chord:
        voiced = note + 12 if note < 55 else note
        freq = dsp.midi_hz(voiced)
        drift = rng.uniform(4, 9)
        stereo[:, 0] += _osc_saw(freq, n, -drift)
        stereo[:, 1] += _osc_saw(freq, n, drift)
    stereo = dsp.lowpass(stereo, cutoff_hz)
    return stereo * dsp.envelope(n, min(0.5, bar_s / 4), 0.6, sustain=1.0)[:, None] / len(chord)


def _bass(root: int, mood: Mood, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    bass_root = root - 12 if root >= 48 else root
    pattern: list[tuple[float, float, int]]  # (start beat, length in beats, semitones above the root)
    if mood.bass == "pulse":
        pattern = [(i / 2, 0.45, 0) for i in range(8)]
    elif mood.bass == "root_fifth":
        pattern = [(0, 1.5, 0), (2, 1.0, 7), (3, 0.9, 0)]
    elif mood.bass == "walk":
        pattern = [(0, 0.9, 0), (1, 0.9, 3 if 3 in mood.scale else 4), (2, 0.9, 7), (3, 0.9, 10)]
    else:
        pattern = [(0, 3.8, 0)]
    out = np.zeros((seconds_to_samples(4 * beat_s + 0.5), 2))
    for start_beat, beats, interval in pattern:
        n = seconds_to_samples(beats * beat_s)
        t = np.arange(n) / SAMPLE_RATE
        freq = dsp.midi_hz(bass_root + interval)
        tone = np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(4 * np.pi * freq * t)
        tone = np.tanh(1.5 * tone) * dsp.envelope(n, 0.006, 0.08, sustain=0.75, decay_s=0.25)
        velocity = rng.uniform(0.85, 1.0)
        dsp.add_at(out, dsp.pan(velocity * tone, 0.0), seconds_to_samples(start_beat * beat_s))
    return dsp.lowpass(out, 700)


def _instrument(kind: str, freq: float, n: int) -> np.ndarray:
    """One note of a lead instrument, mono."""
    t = np.arange(n) / SAMPLE_RATE
    if kind == "bell":  # FM bell: inharmonic 3.5 ratio, brightness dying away
        index = 2.0 * np.exp(-t / 0.4)
        return np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * 3.5 * freq * t)) * dsp.decay(n, 2.2)
    if kind == "epiano":  # FM electric piano: 1:1 ratio, a bark at the attack
        index = 1.4 * np.exp(-t / 0.25) + 0.2
        tone = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * freq * t))
        return tone * dsp.decay(n, 1.6, attack_s=0.003)
    if kind == "pluck":  # bright harmonics that decay faster than the fundamental
        partials = [np.sin(2 * np.pi * k * freq * t) * np.exp(-t * k * 4.0) / k for k in range(1, 7)]
        tone = np.sum(partials, axis=0)
        return tone * dsp.decay(n, 0.8)
    # strings: saw ensemble, slow bow
    tone = _osc_saw(freq, n, -6) + _osc_saw(freq, n, 6)
    return dsp.lowpass(tone, 3000) * dsp.envelope(n, 0.06, 0.15, sustain=0.8, decay_s=0.1) * 0.8


def _arpeggio(chord: list[int], mood: Mood, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    upper = [n + 12 for n in chord] + [chord[0] + 24]
    shape = int(rng.integers(3))
    order = upper if shape == 0 else upper[::-1] if shape == 1 else upper + upper[-2:0:-1]
    steps = 4 * mood.notes_per_beat
    step_s = beat_s / mood.notes_per_beat
    ring = 2.5 if mood.lead in ("bell", "epiano") else 1.0
    out = np.zeros((seconds_to_samples(4 * beat_s + 2.5), 2))
    for step in range(steps):
        note = order[step % len(order)]
        n = seconds_to_samples(step_s * ring)
        velocity = rng.uniform(0.7, 1.0) * (1.0 if step % mood.notes_per_beat == 0 else 0.8)
        tone = velocity * _instrument(mood.lead, dsp.midi_hz(note), n)
        side = 0.35 * (1 if step % 2 else -1)
        dsp.add_at(out, dsp.pan(tone, side), seconds_to_samples(step * step_s))
    return out


def _melody(chord: list[int], tonic: int, mood: Mood, beat_s: float, rng: np.random.Generator) -> np.ndarray:
    """A slow line that walks the scale, landing on chord tones on the strong beats, with rests."""
    scale_notes = [60 + tonic + 12 * octave + s for octave in (0, 1) for s in mood.scale]
    chord_tones = [n for n in scale_notes if (n - chord[0]) % 12 in {(c - chord[0]) % 12 for c in chord}]
    out = np.zeros((seconds_to_samples(4 * beat_s + 2.5), 2))
    position = int(rng.integers(len(scale_notes) // 3, 2 * len(scale_notes) // 3))
    for beat in range(4):
        if beat in (0, 2):
            note = min(chord_tones, key=lambda c: abs(c - scale_notes[position]))
            position = scale_notes.index(note)
        elif rng.random() < 0.35:
            continue  # a rest breathes
        else:
            position = int(np.clip(position + rng.choice([-2, -1, 1, 2]), 0, len(scale_notes) - 1))
            note = scale_notes[position]
        n = seconds_to_samples(beat_s * 2.2)
        tone = rng.uniform(0.75, 1.0) * _instrument(mood.lead, dsp.midi_hz(note), n)
        dsp.add_at(out, dsp.pan(tone, 0.15), seconds_to_samples(beat * beat_s))
    return out


def _drum_sounds(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def hit(seconds: float) -> tuple[int, np.ndarray]:
        n = seconds_to_samples(seconds)
        return n, np.arange(n) / SAMPLE_RATE

    n, t = hit(0.45)  # kick: a sine swept from 150 Hz to 48 Hz
    kick_hz = 48 + 100 * np.exp(-t / 0.04)
    kick = np.sin(2 * np.pi * np.cumsum(kick_hz) / SAMPLE_RATE) * dsp.decay(n, 0.4)
    n, t = hit(0.25)  # snare: a 190 Hz body under band-passed noise
    snare_noise = dsp.bandpass(rng.standard_normal(n), 1500, 9000) * dsp.decay(n, 0.18)
    snare = 0.5 * np.sin(2 * np.pi * 190 * t) * dsp.decay(n, 0.08) + 0.7 * snare_noise
    n, _t = hit(0.08)
    hat = dsp.highpass(rng.standard_normal(n), 7000) * dsp.decay(n, 0.05)
    n, t = hit(0.06)
    rim = np.sin(2 * np.pi * 1700 * t) * dsp.decay(n, 0.04) + 0.3 * hat[:n]
    n, t = hit(1.0)  # taiko: a deep drum with a slight pitch drop and a skin slap
    taiko_hz = 70 + 25 * np.exp(-t / 0.08)
    taiko = np.sin(2 * np.pi * np.cumsum(taiko_hz) / SAMPLE_RATE) * dsp.decay(n, 0.9)
    taiko += 0.25 * dsp.lowpass(rng.standard_normal(n), 900) * dsp.decay(n, 0.07)
    return {"kick": kick, "snare": snare, "hat": 0.5 * hat, "rim": rim, "taiko": taiko}


def _drums(mix: np.ndarray, groove: Groove, beat_s: float, bars: int, swing: float,
           rng: np.random.Generator) -> None:  # fmt: skip
    sounds = _drum_sounds(rng)
    step_s = beat_s / 4
    pans = {"hat": 0.3, "rim": -0.2, "kick": 0.0, "snare": 0.05, "taiko": -0.1}
    for bar in range(bars):
        for lane, hits in groove.items():
            for step, velocity in hits:
                late = swing * step_s if step % 2 else 0.0
                start = seconds_to_samples(bar * 4 * beat_s + step * step_s + late)
                level = 0.42 * velocity * rng.uniform(0.88, 1.0)
                dsp.add_at(mix, dsp.pan(level * sounds[lane], pans[lane]), start)
