"""Failures in words: the provider's reasons mapped, retries within the budget honouring Retry-After,
malformed answers, and the API key in no message or log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from engines.vidu.vidu_support import MemoryState, make_job, render
from fakes.vidu_provider import FakeVidu, Reply, error
from vidgate import errors
from vidgate.engines.base import RenderError
from vidgate.engines.vidu.api import _retry_after
from vidgate.engines.vidu.engine import ViduEngine
from vidgate.errors import InvalidRequestBody

REASONS = [
    (400, "CreditInsufficient", errors.UPSTREAM_CREDIT_INSUFFICIENT),
    (400, "CreationPolicyViolation", errors.CONTENT_POLICY_VIOLATION),
    (400, "AuditSubmitIllegal", errors.CONTENT_POLICY_VIOLATION),
    (400, "ImageDownloadFailure", errors.UPSTREAM_IMAGE_DOWNLOAD_FAILED),
    (400, "FieldInvalid", InvalidRequestBody.reason),
    (400, "ModelUnavailable", errors.UPSTREAM_MODEL_UNAVAILABLE),
    (401, "Unauthorized", errors.UPSTREAM_AUTH_FAILED),
    (429, "QuotaExceeded", errors.UPSTREAM_QUOTA_EXCEEDED),
    (429, "TooManyRequests", errors.UPSTREAM_THROTTLED),
    (429, "SystemThrottling", errors.UPSTREAM_THROTTLED),
    (503, "InternalServiceFailure", errors.UPSTREAM_UNAVAILABLE),
    # A 500 to a create may follow a task the provider did create: never sent again, said so.
    (500, "InternalServiceFailure", errors.UPSTREAM_CREATE_UNCERTAIN),
    (400, "SomethingNew", errors.UPSTREAM_REJECTED),
]


@pytest.mark.parametrize(("status", "provider_reason", "reason"), REASONS)
def test_each_provider_reason_is_a_vidgate_reason(
    tmp_path: Path,
    fake: FakeVidu,
    make_engine: Callable[..., ViduEngine],
    status: int,
    provider_reason: str,
    reason: str,
) -> None:
    engine = make_engine(vidu_retry_budget=0.05)  # transient ones are given up on at once
    fake.script("create", *[error(status, provider_reason, "the provider's words", retry_after="0")] * 20)
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == reason
    assert provider_reason in failed.value.message and "the provider's words" in failed.value.message
    assert "trace t-1" in failed.value.message


@pytest.mark.parametrize(
    ("err_code", "reason"),
    [("CreationPolicyViolation", errors.CONTENT_POLICY_VIOLATION), ("", errors.UPSTREAM_TASK_FAILED),
     ("Mystery", errors.UPSTREAM_TASK_FAILED)],
)  # fmt: skip
def test_a_task_the_provider_failed_says_why(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine, err_code: str, reason: str
) -> None:
    fake.states = ["created", "processing", "failed"]
    fake.err_code = err_code
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == reason and next(iter(fake.tasks)) in failed.value.message


def test_retry_after_is_honoured(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script("create", error(429, "TooManyRequests", retry_after="0.3"))
    render(engine, make_job(tmp_path))
    first, second = fake.creates
    assert second.at - first.at >= 0.3, "waited as long as the provider asked"


def test_a_retry_after_beyond_the_budget_gives_up_at_once(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.script("create", error(429, "SystemThrottling", retry_after="30"))
    started = time.monotonic()
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_THROTTLED and time.monotonic() - started < 1.5
    assert len(fake.creates) == 1


def test_server_errors_back_off_until_the_budget_runs_out(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_retry_budget=0.3, vidu_retry_delay=0.05)
    fake.script("create", *[error(503, "InternalServiceFailure")] * 20)
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_UNAVAILABLE
    gaps = [b.at - a.at for a, b in zip(fake.creates, fake.creates[1:], strict=False)]
    assert 2 <= len(fake.creates) <= 4 and gaps == sorted(gaps), "doubling delays: 0.05, 0.1, ..."


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_to_a_create_is_never_sent_again(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine, status: int
) -> None:
    fake.script("create", error(status, "InternalServiceFailure"))
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_CREATE_UNCERTAIN and len(fake.creates) == 1


def test_polls_ride_out_throttling_and_outages(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script("creations", error(429, "TooManyRequests", retry_after="0"), error(502, "BadGateway"))
    result = render(engine, make_job(tmp_path))
    assert result.frames > 0 and len(fake.creates) == 1


def test_a_slow_poll_times_out_and_is_asked_again(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_request_timeout=0.2)
    fake.script("creations", Reply(200, {"id": "x", "state": "processing"}, delay=0.5))
    assert render(engine, make_job(tmp_path)).frames > 0


def test_the_wait_is_bounded_and_then_cancelled_upstream(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_max_wait=0.2)
    fake.states = ["created", "queueing"]
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_TIMEOUT and len(fake.calls("cancel")) == 1


@pytest.mark.parametrize(
    ("kind", "reply", "words"),
    [
        ("create", Reply(200, b"<html>oops</html>"), "not JSON"),
        ("create", Reply(200, [1, 2]), "not a JSON object"),
        ("create", Reply(200, {"state": "created"}), "no valid task_id"),
        ("create", Reply(200, {"task_id": "../../admin", "state": "created"}), "no valid task_id"),
        ("creations", Reply(200, {"id": "1", "state": "exploded"}), "is not one of"),
        ("creations", Reply(200, {"id": "1", "state": "success", "creations": []}), "no video URL"),
        ("creations", Reply(200, {"id": "1", "state": "processing", "creations": "x"}), "not a list"),
    ],
)
def test_a_malformed_answer_fails_clearly(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine, kind: str, reply: Reply, words: str
) -> None:
    fake.script(kind, reply)
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_BAD_RESPONSE and words in failed.value.message
    assert "Traceback" not in failed.value.message


def test_no_provider_is_listening(tmp_path: Path, make_engine: Callable[..., ViduEngine]) -> None:
    engine = make_engine(vidu_base_url="http://127.0.0.1:9", vidu_retry_budget=0.1)
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path, state=(state := MemoryState())))
    assert failed.value.reason == errors.UPSTREAM_UNAVAILABLE and "could not connect" in failed.value.message
    assert state.values == {"create_started": False}, "nothing was sent, so nothing exists upstream"


def test_retry_after_reads_seconds_and_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert _retry_after(answer("7")) == 7.0
    in_a_minute = _retry_after(answer(formatdate(time.time() + 60, usegmt=True)))
    assert in_a_minute is not None and 58 <= in_a_minute <= 60
    assert _retry_after(answer("soon")) is None and _retry_after(httpx.Response(429)) is None


def test_the_api_key_appears_in_no_message_or_log_line(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-live-THIS-MUST-NEVER-LEAK-42"
    engine = make_engine(vidu_api_key=secret, vidu_retry_budget=0.2)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    # The fake refuses the key and quotes the Authorization header it got back in its message.
    for script in ([], [error(503, "InternalServiceFailure", f"bad token Token {secret}")] * 30):
        fake.script("create", *script)
        with pytest.raises(RenderError) as failed:
            render(engine, make_job(tmp_path))
        texts += [str(failed.value), failed.value.message, repr(failed.value), str(failed.value.metadata)]
    assert fake.creates[0].headers["authorization"] == f"Token {secret}", "the key was sent, in its header"
    assert secret in fake.calls("create")[0].headers["authorization"]
    assert any("***" in text for text in texts), "the provider echoed it and it was masked"
    assert all(secret not in text for text in texts)
    assert secret not in caplog.text and caplog.records, "logged, without the key"
    assert secret not in repr(engine.settings) and secret not in str(engine.settings.model_dump())
