"""The gateway with real processes: `vidgate serve` (API only) and standalone `vidgate worker --engines
vidu` against the fake provider; the provider's signed callbacks reach the API over real HTTP, and a
worker killed while its task waits upstream leaves the task to the next one: one upstream create."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.test_processes import server_env, serving, start, stop
from fakes.vidu_provider import API_KEY, FakeVidu, running_fake
from support.media import data_uri, make_image

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeVidu]:
    with running_fake() as served:
        served.send_callbacks = True
        yield served


def gateway_env(tmp_path: Path, fake: FakeVidu) -> dict[str, str]:
    env = server_env(
        tmp_path,
        VIDGATE_ENGINES="motion,vidu",
        VIDGATE_VIDU_API_KEY=API_KEY,
        VIDGATE_VIDU_BASE_URL=fake.base_url,
        VIDGATE_VIDU_ALLOW_PROVIDER_HOST="true",
        VIDGATE_VIDU_POLL_INTERVAL="0.05",
        VIDGATE_VIDU_POLL_MAX_INTERVAL="0.2",
        VIDGATE_LEASE_SECONDS="2",
        VIDGATE_SWEEP_INTERVAL="0.5",
    )
    return env | {"VIDGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{env['VIDGATE_PORT']}"}


def wait_for(condition: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_while_its_task_waits_upstream_is_followed_without_a_second_create(
    tmp_path: Path, fake: FakeVidu
) -> None:
    fake.step_seconds = 0.6  # created, queueing, processing, success: about 2 s upstream
    env = gateway_env(tmp_path, fake)
    with serving(env, tmp_path, workers=0) as server:
        first = start(["worker", "--engines", "vidu"], env, tmp_path / "worker-1.log")
        try:
            task_id = server.submit(
                {
                    "images": [data_uri(make_image())],
                    "prompt": "waves",
                    "duration": 2,
                    "extra": {"engine": "vidu"},
                }
            )
            wait_for(lambda: "provider_request_id" in server.result(task_id)["extra"])
            os.kill(first.pid, signal.SIGKILL)  # while the task waits upstream
            first.wait()
        finally:
            stop(first)
        second = start(["worker", "--engines", "vidu"], env, tmp_path / "worker-2.log")
        try:
            document = server.wait(task_id, timeout=60)
        finally:
            stop(second)
        assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document["task"]["reason"]
        assert len(fake.creates) == 1, "the second attempt resumed the upstream task"
        assert document["extra"]["provider_request_id"] == next(iter(fake.tasks))
        assert server.download(document, tmp_path / "out.mp4").stat().st_size > 0
        statuses = {status for _url, status in fake.callbacks_sent}
        assert statuses == {200}, f"signed callbacks reach the API: {fake.callbacks_sent}"


def test_a_task_whose_engine_no_worker_runs_waits_and_says_so(tmp_path: Path, fake: FakeVidu) -> None:
    env = gateway_env(tmp_path, fake)
    with serving(env, tmp_path, workers=1) as server:  # an embedded worker runs both engines
        wait_for(lambda: server.client.http.get("/readyz").json()["workers"] == {"motion": 1, "vidu": 1})
        assert server.client.http.get("/readyz").json()["engines_without_workers"] == []
    env |= {"VIDGATE_WORKER_ENGINES": "motion"}
    with serving(env, tmp_path, workers=1) as server:
        task_id = server.submit(
            {"images": [data_uri(make_image())], "prompt": "x", "extra": {"engine": "vidu"}}
        )
        wait_for(lambda: server.client.http.get("/readyz").json()["workers"]["motion"] == 1)
        assert server.client.http.get("/readyz").json()["engines_without_workers"] == ["vidu"]
        time.sleep(1)
        assert server.result(task_id)["task"]["status"] == "TASK_STATUS_QUEUED" and fake.creates == []
    assert "engine vidu has no live worker" in (tmp_path / "serve.log").read_text()
