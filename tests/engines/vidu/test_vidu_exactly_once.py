"""Exactly once upstream: a later attempt resumes the saved upstream task, and an attempt that may
have created one without recording it never creates blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engines.vidu.vidu_support import MemoryState, Progress, make_job, render
from fakes.vidu_provider import FakeVidu, Reply, error
from vidgate import errors
from vidgate.engines.base import RenderCancelled, RenderError
from vidgate.engines.vidu import engine as vidu_engine
from vidgate.engines.vidu.engine import ViduEngine


def test_a_second_attempt_resumes_the_upstream_task_and_never_creates_again(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.states = ["created", "processing", "processing", "processing", "success"]
    state = MemoryState()
    # The first attempt's worker dies while the provider renders (here: its lease is lost).
    with pytest.raises(Exception):  # noqa: B017 - whatever the worker's lost lease raises
        first = make_job(tmp_path, state=state)

        def dies() -> bool:
            if len(fake.calls("creations")) >= 2:
                state.lost = True
                return True
            return False

        engine.render(first, Progress(), dies)
    state.lost = False
    result = render(engine, make_job(tmp_path, state=state))
    assert len(fake.creates) == 1, "one upstream create for two attempts"
    (upstream_id,) = fake.tasks
    assert {c.path for c in fake.calls("creations")} == {f"/ent/v2/tasks/{upstream_id}/creations"}
    assert result.frames > 0 and fake.calls("cancel") == []


def test_a_saved_upstream_id_is_resumed_from_the_start(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    render(engine, make_job(tmp_path, task_id="t-a"))
    (upstream_id,) = fake.tasks
    fake.requests.clear()
    state = MemoryState({"create_started": True, "upstream_task_id": upstream_id})
    render(engine, make_job(tmp_path, state=state, task_id="t-a"))
    assert fake.creates == [] and fake.calls("creations")


def test_a_resumed_attempt_cancelled_before_it_follows_cancels_the_upstream_task(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.states = ["created", "queueing", "processing"]
    first = Progress()
    state = MemoryState()
    with pytest.raises(RenderCancelled):  # attempt 1 creates, then its lease is lost while it waits
        engine.render(make_job(tmp_path, state=state), first, lambda: bool(fake.tasks) and state.lose())
    (upstream_id,) = fake.tasks
    assert fake.calls("cancel") == [], "a lost attempt leaves the upstream task to the next one"
    state.lost = False
    cancelled = Progress()
    cancelled.cancel = True  # the task was cancelled before attempt 2 began
    with pytest.raises(RenderCancelled) as ended:
        engine.render(make_job(tmp_path, state=state), cancelled, cancelled.should_cancel)
    assert ended.value.info == {"upstream_cancel": "cancelled"} and fake.tasks[upstream_id].cancelled
    assert len(fake.creates) == 1


def test_a_create_started_without_an_id_is_not_created_again(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    state = MemoryState({"create_started": True})  # an attempt killed inside the window
    before = vidu_engine.UNCERTAIN_CREATES.value
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path, state=state))
    assert failed.value.reason == errors.UPSTREAM_CREATE_UNCERTAIN
    assert "not created again" in failed.value.message
    assert fake.requests == [], "nothing sent to the provider"
    assert vidu_engine.UNCERTAIN_CREATES.value == before + 1, "counted"
    assert state.public == {"upstream_create_uncertain": True}, "recorded for the store's metrics"


def test_the_window_is_closed_by_the_providers_callback_when_it_came(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    render(engine, make_job(tmp_path, task_id="t-win"))
    (upstream_id,) = fake.tasks
    fake.requests.clear()
    state = MemoryState({"create_started": True})
    state.pushed_event = {"id": upstream_id, "state": "processing", "payload": "t-win", "credits": 20}
    render(engine, make_job(tmp_path, state=state, task_id="t-win"))
    assert fake.creates == []
    assert state.values["upstream_task_id"] == upstream_id
    assert state.public["provider_request_id"] == upstream_id


def test_a_callback_about_another_task_is_not_adopted(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    state = MemoryState({"create_started": True})
    state.pushed_event = {"id": "999", "state": "processing", "payload": "someone-else"}
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path, state=state, task_id="mine"))
    assert failed.value.reason == errors.UPSTREAM_CREATE_UNCERTAIN and fake.requests == []


def test_a_create_that_timed_out_is_uncertain_and_not_retried(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_request_timeout=0.2)
    fake.script("create", Reply(200, {"task_id": "1", "state": "created"}, delay=0.6))
    state = MemoryState()
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path, state=state))
    assert failed.value.reason == errors.UPSTREAM_CREATE_UNCERTAIN
    assert len(fake.creates) == 1, "never sent twice"
    assert state.values == {"create_started": True}, "the next attempt will not create either"


def test_a_create_without_an_answer_is_found_by_its_callback(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine, make_engine: Callable[..., ViduEngine]
) -> None:
    render(engine, make_job(tmp_path, task_id="t-lost"))  # the upstream task the lost answer made
    (upstream_id,) = fake.tasks
    fake.script("create", Reply(504, b"Gateway Timeout", {"Content-Type": "text/plain"}))
    state = MemoryState()
    state.pushed_event = {"id": upstream_id, "state": "queueing", "payload": "t-lost"}
    waiting = make_engine(public_base_url="https://video.example.com")
    assert render(waiting, make_job(tmp_path, state=state, task_id="t-lost")).frames > 0
    assert state.values["upstream_task_id"] == upstream_id and "upstream_create_uncertain" not in state.public
    assert len(fake.creates) == 2, "the first render's and the unanswered one: none sent again"


def test_with_no_callback_in_time_an_unanswered_create_stays_uncertain(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(public_base_url="https://video.example.com", vidu_poll_max_interval=0.1)
    fake.script("create", Reply(504, b"Gateway Timeout", {"Content-Type": "text/plain"}))
    state = MemoryState()
    started = time.monotonic()
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path, state=state))
    assert failed.value.reason == errors.UPSTREAM_CREATE_UNCERTAIN
    assert 0.2 <= time.monotonic() - started < 2, "waited two of the longest poll intervals for a callback"
    assert state.public == {"upstream_create_uncertain": True}


def test_a_gateway_timeout_on_create_is_uncertain(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script("create", Reply(504, b"<html>Gateway Timeout</html>", {"Content-Type": "text/html"}))
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_CREATE_UNCERTAIN and len(fake.creates) == 1


def test_a_refused_create_clears_the_mark(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script("create", error(400, "CreditInsufficient", "not enough credits"))
    state = MemoryState()
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path, state=state))
    assert failed.value.reason == errors.UPSTREAM_CREDIT_INSUFFICIENT
    assert state.values == {"create_started": False}, "the provider said no: nothing exists upstream"


def test_throttled_creates_are_retried_safely(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script(
        "create", error(429, "TooManyRequests", retry_after="0"), error(503, "InternalServiceFailure")
    )
    render(engine, make_job(tmp_path))
    assert len(fake.creates) == 3 and len(fake.tasks) == 1, "refused twice, created once"
