"""Jobs, settings and an in-memory `EngineState` for the vidu engine's tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fakes.vidu_provider import API_KEY, FakeVidu
from vidgate.engines.base import AttemptLost, RenderJob, RenderResult
from vidgate.engines.vidu.engine import ViduEngine
from vidgate.media.watermark import provenance_tags
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams


class MemoryState:
    """What the worker's store keeps for the engine, in memory: `saved` survives "attempts" (pass the
    same object to the next job); `lost` makes `save` raise as a fenced write of a lost attempt does."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.public: dict[str, Any] = {}
        self.saves: list[dict[str, Any]] = []
        self.pushed_event: dict[str, Any] | None = None
        self.lost = False

    def saved(self) -> dict[str, Any]:
        return dict(self.values)

    def save(self, values: Mapping[str, Any], public: Mapping[str, Any] | None = None) -> None:
        if self.lost:
            raise AttemptLost("this attempt no longer owns the task")
        self.saves.append(dict(values))
        self.values.update(values)
        self.public.update(public or {})

    def pushed(self) -> dict[str, Any] | None:
        return self.pushed_event

    def lose(self) -> bool:
        """This attempt loses its task from now on (as its lease expiring would); True, for a cancel
        check that reports it."""
        self.lost = True
        return True


def vidu_settings(tmp_path: Path, fake: FakeVidu, **overrides: Any) -> Settings:
    """Settings against the fake, with everything timed small so a test takes milliseconds."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "vidu_api_key": API_KEY,
        "vidu_base_url": fake.base_url,
        "vidu_allow_provider_host": True,  # the fake serves the videos from 127.0.0.1
        "vidu_poll_interval": 0.01,
        "vidu_poll_max_interval": 0.05,
        "vidu_retry_delay": 0.01,
        "vidu_retry_budget": 2.0,
        "vidu_request_timeout": 2.0,
        "vidu_expected_render_seconds": 0.5,
    }
    return Settings(**(values | overrides), _env_file=None)  # type: ignore[arg-type]


def rgb_image(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def make_job(
    tmp_path: Path,
    images: int = 1,
    state: MemoryState | None = None,
    image_urls: tuple[str, ...] = (),
    task_id: str = "task-1",
    **params: Any,
) -> RenderJob:
    task = TaskParams(
        images=[f"sha256:{i:064x}" for i in range(images)],
        prompt=params.pop("prompt", "a lighthouse at dusk, waves rolling in"),
        duration=params.pop("duration", 5),
        resolution=params.pop("resolution", "720p"),
        movement_amplitude=params.pop("movement_amplitude", "auto"),
        seed=params.pop("seed", 42),
    )
    task = replace(task, **params)
    return RenderJob(
        images=[rgb_image(seed=i) for i in range(images)],
        prompt=task.prompt,
        duration=task.duration,
        short_side=task.short_side,
        movement_amplitude=task.movement_amplitude,  # type: ignore[arg-type]
        seed=task.seed,
        output_path=tmp_path / f"{task_id}.mp4",
        metadata=provenance_tags("vidu", task.seed),
        params=task,
        task_id=task_id,
        image_urls=image_urls,
        state=state or MemoryState(),
    )


class Progress:
    """Records every progress report and answers the cancel check."""

    def __init__(self) -> None:
        self.fractions: list[float] = []
        self.cancel = False

    def __call__(self, fraction: float) -> None:
        self.fractions.append(fraction)

    def should_cancel(self) -> bool:
        return self.cancel


def render(engine: ViduEngine, job: RenderJob, progress: Progress | None = None) -> RenderResult:
    progress = progress or Progress()
    return engine.render(job, progress, progress.should_cancel)
