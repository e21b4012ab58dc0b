"""From a `RenderJob` to the provider's create request: which endpoint, and the JSON body.

Images go as the presigned URLs of vidgate's stored inputs when the storage can make them (the
provider fetches them itself); else as JPEG data URIs, re-encoded from the validated pixels and
shrunk step by step until the whole body fits the provider's 20 MB.
"""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np

from vidgate.engines.base import RenderError, RenderJob
from vidgate.engines.vidu.api import MAX_BODY_BYTES, body_bytes
from vidgate.engines.vidu.callback import callback_url
from vidgate.errors import InvalidRequestBody
from vidgate.settings import Settings

IMG2VIDEO = "/ent/v2/img2video"  # exactly one image: the first frame
START_END2VIDEO = "/ent/v2/start-end2video"  # exactly two: the first and the last frame
REFERENCE2VIDEO = "/ent/v2/reference2video"  # 1..7 reference images; used for 3..7
AMPLITUDES = {"auto": "auto", "small": "small", "medium": "medium", "high": "large", "large": "large"}
# (JPEG quality, scale) tried in turn until the body fits; most photos fit at the first.
JPEG_STEPS = ((90, 1.0), (80, 1.0), (80, 0.75), (75, 0.5), (70, 0.35), (60, 0.25))


def endpoint_for(image_count: int) -> str:
    if image_count == 1:
        return IMG2VIDEO
    if image_count == 2:
        return START_END2VIDEO
    return REFERENCE2VIDEO


def create_request(job: RenderJob, settings: Settings) -> tuple[str, bytes]:
    """(endpoint, body bytes) of the create request for `job`."""
    count = len(job.image_urls) or len(job.images)
    if count == 0:
        raise RenderError(InvalidRequestBody.reason, "a vidu task needs at least one image.")
    body = request_body(job, settings)
    if job.image_urls:
        data = body_bytes(body | {"images": list(job.image_urls)})
        if len(data) > MAX_BODY_BYTES:
            raise RenderError(InvalidRequestBody.reason, "the request is larger than the provider's 20 MB.")
        return endpoint_for(count), data
    for quality, scale in JPEG_STEPS:
        data = body_bytes(body | {"images": [jpeg_data_uri(image, quality, scale) for image in job.images]})
        if len(data) <= MAX_BODY_BYTES:
            return endpoint_for(count), data
    raise RenderError(
        InvalidRequestBody.reason,
        f"the images do not fit the provider's 20 MB request even shrunk to a quarter ({count} images).",
    )


def request_body(job: RenderJob, settings: Settings) -> dict[str, Any]:
    """Every contract parameter in the provider's terms, without the images."""
    params = job.params
    audio = params.audio if params else job.audio is not None
    body: dict[str, Any] = {
        "model": settings.vidu_model,
        "prompt": job.prompt,
        "duration": job.duration,
        "seed": job.seed,
        "resolution": f"{job.short_side}p",
        "movement_amplitude": AMPLITUDES[job.movement_amplitude],
        "bgm": params.bgm if params else False,
        "audio": audio,
        "off_peak": params.off_peak if params else False,
        "watermark": params.watermark if params else job.frame_filter is not None,
        "payload": job.task_id,
    }
    if audio and params and params.voice_id:
        body["voice_id"] = params.voice_id
    if settings.public_base_url and job.task_id:
        body["callback_url"] = callback_url(settings.public_base_url, job.task_id)
    return body


def jpeg_data_uri(image: np.ndarray, quality: int, scale: float) -> str:
    if scale < 1.0:
        height, width = image.shape[:2]
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:  # cv2 encodes any HxWx3 uint8 array; this is a bug, not a user's fault
        raise RuntimeError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode()
