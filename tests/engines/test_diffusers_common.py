"""What the diffusers families share, unit by unit: sizes, frame counts, retiming, prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the diffusers extra is not installed")

from vidgate.engines.base import RenderJob
from vidgate.engines.diffusers import common
from vidgate.engines.diffusers.family import FAMILIES
from vidgate.settings import Settings


def plan_for(
    family: str,
    duration: int = 5,
    short_side: int = 720,
    size: tuple[int, int] = (1920, 1080),
    **settings: object,
) -> common.Plan:
    job = RenderJob(
        images=[np.zeros((size[1], size[0], 3), np.uint8)],
        prompt="a cat",
        duration=duration,
        short_side=short_side,
        movement_amplitude=settings.pop("amplitude", "auto"),  # type: ignore[arg-type]
        seed=1,
        output_path=Path("unused.mp4"),
    )
    return common.plan_render(job, FAMILIES[family], Settings(**settings, _env_file=None))  # type: ignore[arg-type]


def test_wan_5b_renders_720p_at_its_published_size() -> None:
    plan = plan_for("wan-ti2v-5b")
    assert (plan.gen_width, plan.gen_height) == (1280, 704), "Wan 2.2 TI2V-5B's 720p"
    assert (plan.width, plan.height) == (1280, 720)
    assert (plan.frames, plan.generated_frames) == (120, 121)


def test_a14b_generates_16_fps_frames_and_multiples_of_16() -> None:
    plan = plan_for("wan-a14b", duration=3, short_side=540, size=(1000, 1000))
    assert (plan.gen_width, plan.gen_height) == (544, 544)
    assert (plan.frames, plan.generated_frames) == (72, 49)
    assert (plan.generated_frames - 1) % 4 == 0


@pytest.mark.parametrize("duration", range(1, 11))
def test_24_fps_frame_counts_suit_both_families(duration: int) -> None:
    generated = plan_for("ltx-2", duration=duration).generated_frames
    assert generated == 24 * duration + 1 and (generated - 1) % 8 == 0 and (generated - 1) % 4 == 0


def test_generation_short_side_and_portrait_images() -> None:
    plan = plan_for("wan-ti2v-5b", size=(1080, 1920), diffusers_generation_short_side=480)
    assert (plan.gen_width, plan.gen_height) == (480, 864)
    assert (plan.width, plan.height) == (720, 1280), "the contract's size is unchanged"


def test_presets_and_overrides() -> None:
    quality = plan_for("wan-ti2v-5b")
    assert (quality.steps, quality.guidance) == (50, 5.0)
    fast = plan_for("wan-ti2v-5b", diffusers_preset="fast")
    assert (fast.steps, fast.guidance) == (4, 1.0)
    chosen = plan_for(
        "wan-a14b", diffusers_steps=12, diffusers_guidance=2.5, diffusers_negative_prompt="blur"
    )
    assert (chosen.steps, chosen.guidance, chosen.negative_prompt) == (12, 2.5, "blur")


def test_movement_amplitude_adds_words_and_auto_adds_none() -> None:
    auto = plan_for("wan-ti2v-5b")
    assert auto.prompt == "a cat" and auto.negative_prompt == FAMILIES["wan-ti2v-5b"].negative_prompt
    high = plan_for("wan-ti2v-5b", amplitude="high")
    assert high.prompt.startswith("a cat ") and "large movement" in high.prompt
    assert high.negative_prompt.startswith("static") and high.negative_prompt.endswith(auto.negative_prompt)
    assert "almost still" in plan_for("ltx-2", amplitude="small").prompt


def test_retime_16_to_24_fps_blends_neighbours() -> None:
    source = np.arange(17, dtype=np.uint8).repeat(3).reshape(17, 1, 1, 3) * 10  # frame k is 10k
    frames = list(common.retime(source, 16, 24))
    assert len(frames) == 24
    values = [int(frame[0, 0, 0]) for frame in frames]
    # Output frame i shows time i/24 s = source frame 2i/3: 0, 2/3, 4/3, 2, ...
    assert values[:4] == [0, 7, 13, 20]
    assert values[-1] == round(10 * 23 * 2 / 3)


def test_retime_at_24_fps_drops_the_last_frame() -> None:
    source = np.arange(25, dtype=np.uint8).reshape(25, 1, 1, 1)
    assert [int(frame[0, 0, 0]) for frame in common.retime(source, 24, 24)] == list(range(24))


def test_fit_covers_and_crops_exactly() -> None:
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, 100:200] = 255  # the centre third
    fitted = common.fit(image, 64, 64)
    assert fitted.shape == (64, 64, 3)
    assert fitted[:, 8:56].min() > 200, "the centre is kept, the sides cropped"


def test_nearest_multiple_prefers_the_smaller_on_a_tie() -> None:
    assert common.nearest_multiple(720, 32) == 704
    assert common.nearest_multiple(540, 32) == 544
    assert common.nearest_multiple(3, 32) == 32
