"""A small synchronous client of the official Vidu API: create a task, read its creations, cancel it.

Shapes are those of platform.vidu.com's public documentation (summarised in issue 12 and
docs/engines.md). Every failure comes out as an `UpstreamFailure`, a `RenderError` whose reason a
client can match; the provider's own reason and trace id are kept in its words.

Retries: a 429, a 5xx or a timeout is retried with a doubling delay (or the provider's `Retry-After`)
while the request's budget lasts. Creating is the exception where retrying could pay twice: an answer
that never came (a read timeout, a 504 from a proxy) may hide a task the provider did create, so
such a create is never retried; it fails `maybe_created`, and the engine does not create again.

The API key goes into one header and nowhere else: messages quote the provider's words with the key
masked, and httpx logs no headers.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx

from vidgate import clock, errors
from vidgate.errors import InvalidRequestBody, TaskFailure
from vidgate.settings import Settings

log = logging.getLogger("vidgate.engines.vidu")

CONNECT_TIMEOUT_S = 5.0
MAX_BODY_BYTES = 20 * 1024 * 1024  # the provider's limit on a create request
MAX_QUOTED_CHARS = 300  # of a provider message quoted in a failure reason
UPSTREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
STATES = ("created", "queueing", "processing", "success", "failed")

# The provider's reasons (error envelopes, and `err_code` of failed tasks), as vidgate reasons.
PROVIDER_REASONS: dict[str, str] = {
    "CreditInsufficient": errors.UPSTREAM_CREDIT_INSUFFICIENT,
    "CreationPolicyViolation": errors.CONTENT_POLICY_VIOLATION,
    "AuditSubmitIllegal": errors.CONTENT_POLICY_VIOLATION,
    "ImageDownloadFailure": errors.UPSTREAM_IMAGE_DOWNLOAD_FAILED,
    "FieldInvalid": InvalidRequestBody.reason,
    "ModelUnavailable": errors.UPSTREAM_MODEL_UNAVAILABLE,
    "Unauthorized": errors.UPSTREAM_AUTH_FAILED,
    "QuotaExceeded": errors.UPSTREAM_QUOTA_EXCEEDED,
    "TooManyRequests": errors.UPSTREAM_THROTTLED,
    "SystemThrottling": errors.UPSTREAM_THROTTLED,
    "InternalServiceFailure": errors.UPSTREAM_UNAVAILABLE,
}
# What each reason means, said first in the message; the provider's own words follow.
WORDS: dict[str, str] = {
    errors.UPSTREAM_CREDIT_INSUFFICIENT: "the Vidu account has too few credits for this task",
    errors.CONTENT_POLICY_VIOLATION: "the provider's moderation refused the prompt or an image",
    errors.UPSTREAM_IMAGE_DOWNLOAD_FAILED: "the provider could not download an input image",
    InvalidRequestBody.reason: "the provider refused a field of the request",
    errors.UPSTREAM_MODEL_UNAVAILABLE: "the provider does not serve the configured model now",
    errors.UPSTREAM_AUTH_FAILED: "the provider refused vidgate's API key (check VIDGATE_VIDU_API_KEY)",
    errors.UPSTREAM_QUOTA_EXCEEDED: "the Vidu account's quota is used up",
    errors.UPSTREAM_THROTTLED: "the provider kept throttling requests",
    errors.UPSTREAM_UNAVAILABLE: "the provider is unavailable",
    errors.UPSTREAM_REJECTED: "the provider refused the request",
    errors.UPSTREAM_TASK_FAILED: "the provider failed the task",
}


class UpstreamFailure(TaskFailure):
    """A request to the provider failed. `transient`: worth asking again later (429, 5xx, no answer);
    `maybe_created`: a create whose outcome is unknown, so the task may exist at the provider."""

    def __init__(
        self, reason: str, message: str, *, transient: bool = False, maybe_created: bool = False
    ) -> None:
        super().__init__(reason, message)
        self.transient = transient
        self.maybe_created = maybe_created


@dataclass(frozen=True)
class Created:
    task_id: str
    state: str
    credits: int | None


@dataclass(frozen=True)
class Creation:
    url: str
    watermarked_url: str
    cover_url: str


@dataclass(frozen=True)
class TaskView:
    """`GET .../creations`: the task's state and, once it succeeded, its videos."""

    task_id: str
    state: str
    err_code: str
    credits: int | None
    creations: tuple[Creation, ...]


class ViduClient:
    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._key = settings.vidu_api_key.get_secret_value()
        self._budget = settings.vidu_retry_budget
        self._first_delay = settings.vidu_retry_delay
        self._sleep = sleep
        timeout = settings.vidu_request_timeout
        # trust_env=False: no proxy from the environment sees the key.
        self._http = httpx.Client(
            base_url=settings.vidu_base_url.rstrip("/"),
            headers={"Authorization": f"Token {self._key}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout)),
            trust_env=False,
            follow_redirects=False,
            verify=tls_context(),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def create(self, endpoint: str, body: bytes) -> Created:
        """POST a create request (`body` is the JSON, already within MAX_BODY_BYTES)."""
        answer = self._json(self._send("POST", endpoint, body, creates=True), "create", maybe_created=True)
        task_id = upstream_id(answer.get("task_id"))
        if task_id is None:
            raise self._malformed("create", "it has no valid task_id", maybe_created=True)
        return Created(task_id, _text(answer.get("state")), _credits(answer.get("credits")))

    def task(self, task_id: str) -> TaskView:
        answer = self._json(self._send("GET", f"/ent/v2/tasks/{task_id}/creations"), "creations")
        state = answer.get("state")
        if state not in STATES:
            raise self._malformed("creations", f"its state {_quote(state, self._key)} is not one of {STATES}")
        creations = answer.get("creations") or []
        if not isinstance(creations, list) or not all(isinstance(c, dict) for c in creations):
            raise self._malformed("creations", "its creations are not a list of objects")
        views = tuple(
            Creation(_text(c.get("url")), _text(c.get("watermarked_url")), _text(c.get("cover_url")))
            for c in creations
        )
        if state == "success" and not any(view.url or view.watermarked_url for view in views):
            raise self._malformed("creations", "the task succeeded with no video URL")
        return TaskView(
            str(answer.get("id") or task_id), state, _text(answer.get("err_code")),
            _credits(answer.get("credits")), views,
        )  # fmt: skip

    def key_accepted(self) -> bool:
        """A cheap look at whether the provider takes the key (`vidgate doctor`): the creations of a
        task no account has. 401/403: the key is refused; any other answer: it was accepted. Creates
        nothing and spends no credits; a transport fault raises httpx's error."""
        response = self._http.get("/ent/v2/tasks/0/creations")
        return response.status_code not in (401, 403)

    def cancel(self, task_id: str) -> bool:
        """True when the provider cancelled the task; False when it answered that it no longer can."""
        body = json.dumps({"id": task_id}).encode()
        response = self._send("POST", f"/ent/v2/tasks/{task_id}/cancel", body, refusal_ok=True)
        return response.status_code < 400

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        creates: bool = False,
        refusal_ok: bool = False,
    ) -> httpx.Response:
        """The provider's answer, retried while transient and within the budget; a refusal (4xx other
        than 429) raises, or is returned when `refusal_ok` and it is a 400."""
        deadline = time.monotonic() + self._budget
        delay = self._first_delay
        while True:
            failure, wait = self._attempt(method, path, body, creates)
            if isinstance(failure, httpx.Response):
                response = failure
                if response.status_code < 400 or (refusal_ok and response.status_code == 400):
                    return response
                raise self._refusal(response)
            wait = delay if wait is None else wait
            if time.monotonic() + wait > deadline:
                raise failure
            log.warning("vidu: %s %s: %s; retrying in %.1f s", method, path, failure.message, wait)
            self._sleep(wait)
            delay *= 2

    def _attempt(
        self, method: str, path: str, body: bytes | None, creates: bool
    ) -> tuple[httpx.Response | UpstreamFailure, float | None]:
        """One request: the answer to keep, or a transient failure and how long the provider asks
        us to wait (None: our own backoff)."""
        try:
            response = self._http.request(method, path, content=body)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            # Nothing was sent: safe to send again, creates included.
            return self._transient(errors.UPSTREAM_UNAVAILABLE, _unavailable("could not connect to it")), None
        except httpx.HTTPError as exc:
            why = (
                "did not answer in time"
                if isinstance(exc, httpx.TimeoutException)
                else "broke the connection"
            )
            if creates:
                raise self._uncertain(f"the provider {why} while creating the task") from None
            return self._transient(errors.UPSTREAM_UNAVAILABLE, _unavailable(f"it {why}")), None
        status = response.status_code
        if status == 429 or status >= 500:
            # Only 429 and 503 say the create was not taken on. A 500 or 502 may come after the
            # provider created the task (a fault on the way back, a proxy), a 504 from a proxy that
            # gave up waiting: sending it again could pay twice.
            reason, words = self._envelope(response)
            if creates and status >= 500 and status != 503:
                raise self._uncertain(f"the provider answered while creating the task: {words.rstrip('.')}")
            return self._transient(reason, words), _retry_after(response)
        return response, None

    def _envelope(self, response: httpx.Response) -> tuple[str, str]:
        """(vidgate reason, message) of an error answer, from the provider's envelope when it has one."""
        status = response.status_code
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        provider_reason, quoted = "", f"HTTP {status}"
        if isinstance(envelope, dict) and isinstance(envelope.get("reason"), str):
            provider_reason = envelope["reason"]
            metadata = envelope.get("metadata")
            trace = _quote(metadata.get("trace_id"), self._key) if isinstance(metadata, dict) else ""
            parts = [f"HTTP {status} {provider_reason}", _quote(envelope.get("message"), self._key)]
            quoted = ", ".join(part for part in parts if part) + (f", trace {trace}" if trace else "")
        reason = PROVIDER_REASONS.get(provider_reason) or _reason_for_status(status)
        return reason, f"{WORDS.get(reason, WORDS[errors.UPSTREAM_REJECTED])} ({quoted})."

    def _refusal(self, response: httpx.Response) -> UpstreamFailure:
        reason, message = self._envelope(response)
        return UpstreamFailure(reason, message)

    def _json(self, response: httpx.Response, what: str, maybe_created: bool = False) -> dict[str, Any]:
        try:
            answer = response.json()
        except ValueError:
            raise self._malformed(what, "it is not JSON", maybe_created) from None
        if not isinstance(answer, dict):
            raise self._malformed(what, "it is not a JSON object", maybe_created)
        return answer

    @staticmethod
    def _transient(reason: str, message: str) -> UpstreamFailure:
        return UpstreamFailure(reason, message, transient=True)

    @staticmethod
    def _uncertain(why: str) -> UpstreamFailure:
        return UpstreamFailure(
            errors.UPSTREAM_CREATE_UNCERTAIN,
            f"{why}; it may exist at the provider, so it is not created again (that could pay twice).",
            maybe_created=True,
        )

    @staticmethod
    def _malformed(what: str, why: str, maybe_created: bool = False) -> UpstreamFailure:
        return UpstreamFailure(
            errors.UPSTREAM_BAD_RESPONSE,
            f"the provider's answer to {what} was not understood: {why}.",
            maybe_created=maybe_created,
        )


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs about 0.1 s each time."""
    return ssl.create_default_context()


def failed_task(view: TaskView) -> UpstreamFailure:
    """The failure of a task the provider ended `failed`, by its `err_code`."""
    reason = PROVIDER_REASONS.get(view.err_code, errors.UPSTREAM_TASK_FAILED)
    code = _quote(view.err_code, "") or "none given"
    return UpstreamFailure(reason, f"{WORDS[reason]} (upstream task {view.task_id}, err_code {code}).")


def upstream_id(value: object) -> str | None:
    """An upstream task id as the provider gives them (a number, or a string of one), or None: it goes
    into URL paths, so nothing else is accepted."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if UPSTREAM_ID.fullmatch(text) else None


def _unavailable(why: str) -> str:
    return f"{WORDS[errors.UPSTREAM_UNAVAILABLE]} ({why})."


def _reason_for_status(status: int) -> str:
    if status in (401, 403):
        return errors.UPSTREAM_AUTH_FAILED
    if status == 429:
        return errors.UPSTREAM_THROTTLED
    if status >= 500:
        return errors.UPSTREAM_UNAVAILABLE
    return errors.UPSTREAM_REJECTED


def _retry_after(response: httpx.Response) -> float | None:
    """The provider's `Retry-After` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - clock.now())
    except (TypeError, ValueError):
        return None


def _quote(value: object, secret: str) -> str:
    """A provider-supplied text, short, on one line, and with the API key masked should it echo it."""
    if value is None or value == "":
        return ""
    text = " ".join(str(value).split())
    if secret:
        text = text.replace(secret, "***")
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 1] + "…"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _credits(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def body_bytes(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
