"""What the vidu engine can serve, checked at submit without loading it (the API process calls these).

Durations and resolutions per model are those platform.vidu.com's public API reference lists for its
image-to-video models (as read for issue 12; the provider may widen them): viduq2-pro and
viduq2-turbo 1..10 s at 540p/720p/1080p; viduq1 5 s at 1080p; vidu2.0 4 or 8 s at 360p/720p/1080p (of
which the contract has 720p and 1080p). A model not listed gets the contract's whole range, and the
provider's own refusal (`FieldInvalid`) fails the task if it disagrees.
"""

from __future__ import annotations

from vidgate.engines.base import ALL_DURATIONS, ALL_RESOLUTIONS, PARAMETERS, EngineLimits
from vidgate.errors import InvalidRequestBody
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams

MAX_IMAGES = 7  # reference2video takes at most 7 images
# Model: (durations, resolutions)
MODEL_LIMITS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "viduq2-pro": (ALL_DURATIONS, ALL_RESOLUTIONS),
    "viduq2-turbo": (ALL_DURATIONS, ALL_RESOLUTIONS),
    "viduq1": ((5,), ("1080p",)),
    "vidu2.0": ((4, 8), ("720p", "1080p")),
}


def vidu_limits(settings: Settings) -> EngineLimits:
    model = settings.vidu_model
    durations, resolutions = MODEL_LIMITS.get(model, (ALL_DURATIONS, ALL_RESOLUTIONS))
    known = "" if model in MODEL_LIMITS else " (a model vidgate has no limits for: the contract's range)"
    return EngineLimits(
        durations=durations,
        resolutions=resolutions,
        min_images=1,
        max_images=MAX_IMAGES,
        honours=frozenset(PARAMETERS),
        renders_itself=frozenset({"bgm", "audio", "watermark"}),
        max_running=settings.vidu_concurrency,
        notes=f"the official Vidu API, model {model}{known}; 1 image: img2video, 2: first and last "
        "frame, 3..7: reference images",
    )


def check_vidu_settings(settings: Settings) -> None:
    if not settings.vidu_api_key.get_secret_value().strip():
        raise ValueError(
            "VIDGATE_VIDU_API_KEY is required when the vidu engine is enabled (the Vidu account's API key)"
        )


def check_vidu_request(params: TaskParams, _settings: Settings) -> None:
    """The combinations the provider refuses, refused at submit in its terms."""
    if params.audio and params.off_peak:
        raise InvalidRequestBody(
            "audio and off_peak cannot be combined on the vidu engine: the provider does not generate "
            "audio in off-peak mode.",
            {"field": "off_peak"},
        )


def probe_vidu(settings: Settings) -> tuple[bool, str]:
    """For `vidgate doctor`: whether the provider is reachable and takes the key (one cheap call)."""
    import httpx

    from vidgate.engines.vidu.api import ViduClient

    client = ViduClient(settings)
    try:
        accepted = client.key_accepted()
    except httpx.HTTPError as exc:
        raise ValueError(
            f"the Vidu API at {settings.vidu_base_url} is unreachable ({type(exc).__name__})"
        ) from None
    finally:
        client.close()
    if not accepted:
        raise ValueError("the Vidu API refused VIDGATE_VIDU_API_KEY (401/403): check the key and its account")
    return True, f"the Vidu API at {settings.vidu_base_url} accepts the key"
