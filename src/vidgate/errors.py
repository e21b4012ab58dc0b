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


class FileExpired(VidgateError):
    """The video was deleted by retention (VIDGATE_RETENTION); the task's row, and its answer, remain."""

    status, reason = 410, "FILE_EXPIRED"


class ApiNotFound(VidgateError):
    status, reason = 404, "API_NOT_FOUND"


class MethodNotAllowed(VidgateError):
    status, reason = 405, "METHOD_NOT_ALLOWED"


class CorsRefused(VidgateError):
    """A browser's preflight for an origin, method or header the API does not allow cross-origin."""

    status, reason = 400, "CORS_REQUEST_REFUSED"


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
    """Something the API needs (the database) is out of reach for now; `retry_after`, when known,
    says in how many seconds to try again."""

    status, reason = 503, "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        self.retry_after = max(1, retry_after) if retry_after is not None else None
        super().__init__(message, {"retry_after": self.retry_after} if self.retry_after else {})

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


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

# Reasons of tasks an upstream provider ran (the vidu engine; docs/engines.md maps each provider reason).
UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED"  # the provider refused vidgate's API key
UPSTREAM_CREDIT_INSUFFICIENT = "UPSTREAM_CREDIT_INSUFFICIENT"  # the provider account has no credits left
UPSTREAM_QUOTA_EXCEEDED = "UPSTREAM_QUOTA_EXCEEDED"  # the provider account's quota is used up
CONTENT_POLICY_VIOLATION = "CONTENT_POLICY_VIOLATION"  # the provider's moderation refused the request
UPSTREAM_IMAGE_DOWNLOAD_FAILED = "UPSTREAM_IMAGE_DOWNLOAD_FAILED"  # the provider could not fetch an image
UPSTREAM_MODEL_UNAVAILABLE = "UPSTREAM_MODEL_UNAVAILABLE"  # the configured model is not served now
UPSTREAM_THROTTLED = "UPSTREAM_THROTTLED"  # still throttled (429) when the retry budget ran out
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"  # 5xx, timeouts or no connection, past the retry budget
UPSTREAM_REJECTED = "UPSTREAM_REJECTED"  # any other refusal of the provider, in its own words
UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"  # an answer vidgate could not understand
UPSTREAM_TASK_FAILED = "UPSTREAM_TASK_FAILED"  # the provider ended the task failed, for no known reason
UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"  # the provider did not finish within VIDGATE_VIDU_MAX_WAIT
# An earlier attempt was stopped while creating the upstream task, before its id was recorded: it may
# exist (and be paid for) at the provider, so it is not created again blindly.
UPSTREAM_CREATE_UNCERTAIN = "UPSTREAM_CREATE_UNCERTAIN"
UPSTREAM_DOWNLOAD_FAILED = "UPSTREAM_DOWNLOAD_FAILED"  # the finished video could not be downloaded
UPSTREAM_VIDEO_TOO_LARGE = "UPSTREAM_VIDEO_TOO_LARGE"  # larger than VIDGATE_VIDU_MAX_VIDEO_BYTES
UPSTREAM_VIDEO_INVALID = "UPSTREAM_VIDEO_INVALID"  # not an MP4 with a video stream


class InvalidCallbackSignature(VidgateError):
    """An upstream provider's callback whose signature does not verify: refused, and it changes nothing."""

    status, reason = 401, "INVALID_CALLBACK_SIGNATURE"


class IdempotencyKeyReused(VidgateError):
    status, reason = 409, "IDEMPOTENCY_KEY_REUSED"


class TaskFailure(VidgateError):
    """A task failed while it ran, for a reason an engine (or its upstream provider) names at run time:
    `GPU_OUT_OF_MEMORY`, `UPSTREAM_CREDIT_INSUFFICIENT`, a request error found late. The worker stores
    `"<reason>: <message>"` on the task, as it does for every `VidgateError`; it is never retried."""

    def __init__(self, reason: str, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(message, metadata)
        self.reason = reason
