"""Helpers the sound tests import: decode an MP4's audio, and measure what a listener would hear."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pyloudnorm
from scipy import signal


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """All decoded samples of the first audio stream, float64 (samples, channels), and the rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]  # planar (channels, n)
        return np.concatenate(chunks, axis=1).T.astype(np.float64), stream.codec_context.sample_rate


def stream_seconds(path: Path) -> dict[str, float]:
    """Duration of each stream as the container states it (edit lists applied), by stream type."""
    with av.open(str(path)) as container:
        return {
            stream.type: float(stream.duration * stream.time_base)
            for stream in container.streams
            if stream.duration is not None and stream.time_base is not None
        }


def loudness(samples: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def true_peak_dbtp_of(samples: np.ndarray) -> float:
    """BS.1770 true peak: the peak of the signal oversampled 4x, in dB."""
    oversampled = signal.resample_poly(samples.astype(np.float64), 4, 1, axis=0)
    return float(20 * np.log10(np.max(np.abs(oversampled))))


def rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(samples**2) + 1e-20))


def pitch_hz(mono: np.ndarray, rate: int) -> float:
    """Median fundamental of the voiced 40 ms frames, by autocorrelation between 70 and 400 Hz."""
    size = int(0.04 * rate)
    lags = np.arange(rate // 400, rate // 70)
    estimates = []
    loudest = np.max(np.abs(mono))
    for start in range(0, len(mono) - size, size // 2):
        frame = mono[start : start + size] - np.mean(mono[start : start + size])
        if np.max(np.abs(frame)) < 0.1 * loudest:
            continue
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        best = lags[np.argmax(corr[lags])]
        if corr[best] > 0.5 * corr[0]:  # clearly periodic: voiced
            estimates.append(rate / best)
    return float(np.median(estimates)) if estimates else 0.0


def spectral_flatness(mono: np.ndarray) -> float:
    """Geometric over arithmetic mean of the power spectrum: ~0 for a pure tone, ~1 for white noise."""
    _freqs, power = signal.welch(mono, nperseg=4096)
    power = power[1:] + 1e-20
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


def pitch_classes(mono: np.ndarray, rate: int, per_window: int = 3) -> set[int]:
    """Pitch classes (0 = C) of the `per_window` strongest spectral peaks of each quarter second
    between 80 Hz and 2 kHz: a sine gives one, chords and a melody give several."""
    found = set()
    size = rate // 4
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = (freqs > 80) & (freqs < 2000)
    for start in range(0, len(mono) - size, size):
        spectrum = np.abs(np.fft.rfft(mono[start : start + size] * np.hanning(size)))[band]
        if spectrum.max() < 1e-4:
            continue
        peaks, _props = signal.find_peaks(spectrum, height=0.2 * spectrum.max())
        for peak in peaks[np.argsort(spectrum[peaks])[::-1][:per_window]]:
            found.add(round(12 * np.log2(freqs[band][peak] / 440.0) + 69) % 12)
    return found
