"""Engines by name. Each engine is one module behind the `Engine` protocol in `base.py`.

An `EngineSpec` is what every process may know of an engine without loading it: its limits (the API
checks submits against them and never imports an engine's heavy dependencies, torch above all) and
how a worker loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vidgate.engines.base import Engine, EngineLimits
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams


@dataclass(frozen=True)
class EngineSpec:
    name: str
    description: str
    # Cheap and import-light: the API process calls it.
    limits: Callable[[Settings], EngineLimits]
    # The worker calls it once per process; the engine then stays warm between tasks.
    load: Callable[[Settings], Engine]
    # Raises ValueError naming the setting (e.g. "VIDGATE_VIDU_API_KEY is required ...") when the
    # engine is enabled but cannot run with these settings; called at start by serve and worker.
    check_settings: Callable[[Settings], None] | None = None
    # Refusals beyond the limits, in the engine's own terms (e.g. a provider's forbidden combinations);
    # raises InvalidRequestBody.
    check_request: Callable[[TaskParams, Settings], None] | None = None


def _load_motion(_settings: Settings) -> Engine:
    from vidgate.engines.motion import MotionEngine

    return MotionEngine()


def _load_diffusers(settings: Settings) -> Engine:
    from vidgate.engines.diffusers import load  # imports torch and diffusers only here

    return load(settings)


def _diffusers_limits(settings: Settings) -> EngineLimits:
    from vidgate.engines.diffusers import limits  # JSON files only: safe in the API process

    return limits(settings)


def _check_diffusers_settings(settings: Settings) -> None:
    from vidgate.engines.diffusers import check_settings

    check_settings(settings)


def _check_diffusers_request(params: TaskParams, settings: Settings) -> None:
    from vidgate.engines.diffusers import check_request

    check_request(params, settings)


SPECS: dict[str, EngineSpec] = {
    "motion": EngineSpec(
        name="motion",
        description="CPU camera moves over the photos, chosen from the prompt; no model needed.",
        limits=lambda _settings: EngineLimits(),  # honours every parameter
        load=_load_motion,
    ),
    "diffusers": EngineSpec(
        name="diffusers",
        description="Open image-to-video models (Wan 2.2, LTX-2) from a local folder, on a GPU.",
        limits=_diffusers_limits,
        load=_load_diffusers,
        check_settings=_check_diffusers_settings,
        check_request=_check_diffusers_request,
    ),
}
ENGINE_NAMES = tuple(SPECS)


def spec(name: str) -> EngineSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINE_NAMES)}") from None


def get_engine(name: str, settings: Settings | None = None) -> Engine:
    return spec(name).load(settings or Settings())
