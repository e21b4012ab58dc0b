"""The ambience bed: cues from the prompt, each a distinct, seeded, exact-length sound."""

from __future__ import annotations

import numpy as np
import pytest

from support.audio import spectral_flatness
from vidgate.media.audio.ambience import CUE_LOUDNESS, MODELS, ambience, pick_cues
from vidgate.media.audio.dsp import SAMPLE_RATE, loudness_lufs


def test_cues_come_from_the_prompt_and_combine() -> None:
    assert pick_cues("a rainy street in the city at night") == ["rain", "city", "night"]
    assert pick_cues("waves on the beach, seagulls and wind") == ["wind", "sea"]
    assert pick_cues("a campfire in the forest") == ["fire", "forest"]
    assert pick_cues("a crowd at the market") == ["crowd"]
    assert pick_cues("birds singing") == ["birds"]
    assert pick_cues("a portrait of a woman") == ["room"], "room tone when nothing is named"


@pytest.mark.parametrize("cue", sorted(MODELS))
def test_every_model_is_an_audible_seeded_bed_of_exact_length(cue: str) -> None:
    bed, cues = ambience(cue, 2, seed=5)
    assert cues == [cue]
    assert bed.shape == (2 * SAMPLE_RATE, 2) and np.isfinite(bed).all()
    assert abs(loudness_lufs(bed) - CUE_LOUDNESS[cue]) < 1.5, "each model at its own level"
    assert np.array_equal(bed, ambience(cue, 2, seed=5)[0])
    assert not np.allclose(bed, ambience(cue, 2, seed=6)[0])


def test_models_sound_different_from_each_other() -> None:
    rain = ambience("rain", 2, seed=1)[0].mean(axis=1)
    birds = ambience("birds", 2, seed=1)[0].mean(axis=1)
    assert spectral_flatness(rain) > 5 * spectral_flatness(birds), "hiss is noise-like, chirps are tonal"
