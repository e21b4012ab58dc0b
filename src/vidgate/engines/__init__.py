"""Engines by name. Each engine is one module behind the `Engine` protocol in `base.py`.

An `EngineSpec` is what every process may know of an engine without loading it: its limits (the API
checks submits against them and never imports an engine's heavy dependencies, torch above all) and
how a worker loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vidgate.engines.base import FPS, Engine, EngineLimits
from vidgate.engines.vidu.limits import check_vidu_request, check_vidu_settings, probe_vidu, vidu_limits
from vidgate.errors import InvalidRequestBody
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
    # `vidgate doctor`'s cheap look at whether the engine can work here (a provider takes the key, a
    # GPU is visible): (fine, words), or (False, words) for a warning; raises ValueError for a fault.
    probe: Callable[[Settings], tuple[bool, str]] | None = None
    # A rough render time in ms on one worker, stored with the task so that the queue's ETAs add up.
    estimate_ms: Callable[[TaskParams, Settings], int] = lambda params, _settings: cpu_estimate_ms(params)


# The motion engine's render cost per output frame on one CPU core, by short side (measured).
SECONDS_PER_FRAME = {540: 0.01, 720: 0.02, 1080: 0.045}


def cpu_estimate_ms(params: TaskParams) -> int:
    return round(params.duration * FPS * SECONDS_PER_FRAME.get(params.short_side, 0.03) * 1000)


def _load_motion(_settings: Settings) -> Engine:
    from vidgate.engines.motion import MotionEngine

    return MotionEngine()


def _load_vidu(settings: Settings) -> Engine:
    from vidgate.engines.vidu.engine import ViduEngine

    return ViduEngine(settings)


def _load_diffusers(settings: Settings) -> Engine:
    from vidgate.engines.diffusers import load  # imports torch and diffusers only here

    return load(settings)


def _diffusers_limits(settings: Settings) -> EngineLimits:
    from vidgate.engines.diffusers import limits  # JSON files only: safe in the API process

    return limits(settings)


def _check_diffusers_settings(settings: Settings) -> None:
    from vidgate.engines.diffusers import check_settings

    check_settings(settings)


def _probe_gpu(settings: Settings) -> tuple[bool, str]:
    """Whether the device this host's diffusers workers would use is there (imports torch)."""
    import torch

    wanted = settings.diffusers_device or ("cuda" if torch.cuda.is_available() else "cpu")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"VIDGATE_DIFFUSERS_DEVICE is {wanted!r} but CUDA is not visible to torch here")
    if wanted.startswith("cuda"):
        return True, f"CUDA visible: {torch.cuda.get_device_name(torch.device(wanted))}"
    return False, "no CUDA on this host: diffusers tasks would render on the CPU, very slowly"


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
    "vidu": EngineSpec(
        name="vidu",
        description="The official Vidu API, with vidgate as the gateway: its queue, keys, storage, webhooks.",
        limits=vidu_limits,
        load=_load_vidu,
        check_settings=check_vidu_settings,
        check_request=check_vidu_request,
        probe=probe_vidu,
        estimate_ms=lambda _params, settings: round(settings.vidu_expected_render_seconds * 1000),
    ),
    "diffusers": EngineSpec(
        name="diffusers",
        description="Open image-to-video models (Wan 2.2, LTX-2) from a local folder, on a GPU.",
        limits=_diffusers_limits,
        load=_load_diffusers,
        check_settings=_check_diffusers_settings,
        check_request=_check_diffusers_request,
        probe=_probe_gpu,
        estimate_ms=lambda params, settings: round(
            params.duration * settings.diffusers_seconds_per_video_second * 1000
        ),
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


def check_deployment(settings: Settings) -> None:
    """Every enabled engine exists and can run with these settings; raises ValueError naming the
    setting to change. `vidgate serve` and `vidgate worker` call it at start."""
    for name in settings.enabled_engines():
        if name not in SPECS:
            raise ValueError(f"VIDGATE_ENGINES: unknown engine {name!r}; known: {', '.join(ENGINE_NAMES)}")
    for name in settings.engines_to_run():
        if (check := SPECS[name].check_settings) is not None:
            check(settings)


def choose_engine(requested: str | None, pinned: str | None, settings: Settings) -> str:
    """The engine a submit runs on: the request's `extra.engine`, else its key's pinned engine, else
    VIDGATE_ENGINE. Only engines this deployment enables, and the key may use, are accepted."""
    enabled = settings.enabled_engines()
    allowed = [engine for engine in ([pinned] if pinned is not None else enabled) if engine in enabled]
    name = requested or pinned or settings.engine
    if name not in allowed:
        if pinned is not None and pinned not in enabled:
            why = f"this API key is pinned to engine {pinned!r}, which this server does not run"
        elif pinned is not None:
            why = f"{name!r} is not an engine this API key may use; use {pinned!r}"
        else:
            why = f"{name!r} is not an engine this server runs; use one of {', '.join(allowed)}"
        raise InvalidRequestBody(
            f"Field 'extra.engine': {why}.", {"field": "extra.engine", "allowed": allowed}
        )
    return name


def check_request(name: str, params: TaskParams, settings: Settings) -> EngineLimits:
    """A request the engine cannot serve is refused at submit (400), so it never reaches a worker;
    the engine's limits, read once for the submit (an engine may read files for them)."""
    limits = spec(name).limits(settings)

    def refuse(field: str, why: str, allowed: object) -> InvalidRequestBody:
        return InvalidRequestBody(
            f"Field '{field}': {why} on engine {name!r}.",
            {"field": field, "engine": name, "allowed": allowed},
        )

    if params.duration not in limits.durations:
        raise refuse(
            "duration",
            f"{params.duration} s is not possible; use {_spans(limits.durations)} s",
            list(limits.durations),
        )
    if params.resolution not in limits.resolutions:
        raise refuse(
            "resolution",
            f"{params.resolution} is not possible; use {', '.join(limits.resolutions)}",
            list(limits.resolutions),
        )
    most = max_images(limits, settings)
    if not limits.min_images <= len(params.images) <= most:
        count = f"{limits.min_images}" if limits.min_images == most else f"{limits.min_images}..{most}"
        raise refuse(
            "images",
            f"{len(params.images)} images is not possible; use {count}",
            {"min": limits.min_images, "max": most},
        )
    if (check := spec(name).check_request) is not None:
        check(params, settings)
    return limits


def max_images(limits: EngineLimits, settings: Settings) -> int:
    return min(limits.max_images or settings.max_images, settings.max_images)


def _spans(values: tuple[int, ...]) -> str:
    """(1, 2, 3, 5) -> '1..3, 5'."""
    spans: list[list[int]] = []
    for value in sorted(values):
        if spans and value == spans[-1][-1] + 1:
            spans[-1].append(value)
        else:
            spans.append([value])
    return ", ".join(f"{s[0]}..{s[-1]}" if len(s) > 2 else ", ".join(map(str, s)) for s in spans)
