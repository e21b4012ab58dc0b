"""Every error reason vidgate reports, each a class carrying its HTTP status.

Raise these anywhere (inputs, services, routes); the API's one exception handler renders the
contract's envelope `{"code", "reason", "message", "metadata"}`. A worker stores `reason` on a failed
task, so the same names reach a user whether the fault is found at submit or later.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VidgateError(Exception):
    status: ClassVar[int] = 500
    reason: str = "INTERNAL_ERROR"  # a class's own reason; `TaskFailure` names one per instance

    def __init__(self, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata or {}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the error response carries besides the envelope (e.g. Retry-After)."""
        return {}


class InvalidRequestBody(VidgateError):
    status, reason = 400, "INVALID_REQUEST_BODY"


class ImageError(VidgateError):
    """An image failed a check; found at submit it is a 400, found by a worker it fails the task."""

    status = 400


class InvalidImageFormat(ImageError):
    reason = "INVALID_IMAGE_FORMAT"


class ImageFileExceedsMaxSize(ImageError):
    reason = "IMAGE_FILE_EXCEEDS_MAX_SIZE"


class ImageExceedsMaxResolution(ImageError):
    reason = "IMAGE_EXCEEDS_MAX_RESOLUTION"


class InvalidImageSize(ImageError):
    reason = "INVALID_IMAGE_SIZE"


class InvalidImageUrl(ImageError):
    reason = "INVALID_IMAGE_URL"


class MissingApiKey(VidgateError):
    status, reason = 401, "MISSING_API_KEY"


class InvalidApiKey(VidgateError):
    status, reason = 403, "INVALID_API_KEY"


class InvalidSignature(VidgateError):
    status, reason = 403, "INVALID_SIGNATURE"


class TaskNotFound(VidgateError):
    status, reason = 404, "TASK_NOT_FOUND"


class FileNotFound(VidgateError):
    status, reason = 404, "FILE_NOT_FOUND"


class ApiNotFound(VidgateError):
    status, reason = 404, "API_NOT_FOUND"


class MethodNotAllowed(VidgateError):
    status, reason = 405, "METHOD_NOT_ALLOWED"


class RequestTooLarge(VidgateError):
    status, reason = 413, "REQUEST_BODY_TOO_LARGE"


class RateLimitExceeded(VidgateError):
    """A key's rate, concurrency or daily quota is used up; `retry_after` says when to try again."""

    status, reason = 429, "RATE_LIMIT_EXCEEDED"

    def __init__(self, message: str, retry_after: int, metadata: dict[str, Any] | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, {"retry_after": self.retry_after} | (metadata or {}))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(VidgateError):
    status, reason = 503, "SERVICE_UNAVAILABLE"


class CreateTaskFailed(VidgateError):
    status, reason = 500, "CREATE_TASK_FAILED"


class GetResultFailed(VidgateError):
    status, reason = 500, "GET_RESULT_FAILED"


# Reasons a task can end FAILED with that are not request errors.
CANCELED = "CANCELED"
MAX_ATTEMPTS_EXCEEDED = "MAX_ATTEMPTS_EXCEEDED"
RENDER_FAILED = "RENDER_FAILED"
# A model engine ran out of GPU memory; the message says the size and frames and what to lower.
GPU_OUT_OF_MEMORY = "GPU_OUT_OF_MEMORY"


class IdempotencyKeyReused(VidgateError):
    status, reason = 409, "IDEMPOTENCY_KEY_REUSED"


class TaskFailure(VidgateError):
    """A task failed while it ran, for a reason an engine (or its upstream provider) names at run time:
    `GPU_OUT_OF_MEMORY`, `UPSTREAM_CREDIT_INSUFFICIENT`, a request error found late. The worker stores
    `"<reason>: <message>"` on the task, as it does for every `VidgateError`; it is never retried."""

    def __init__(self, reason: str, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message, metadata)
        self.reason = reason
