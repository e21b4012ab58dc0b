"""PostgreSQL stops for 10 s while 50 tasks are in flight (an API and two `vidgate worker` processes on
a private cluster): the API answers 503 with Retry-After meanwhile, everything reconnects by itself,
and afterwards every task has succeeded once, with one video each and nothing else left behind."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from support.live import free_port
from support.media import data_uri, make_image
from support.private_postgres import PrivatePostgres, private_postgres
from support.processes import run_vidgate, start_vidgate, stop_vidgate, vidgate_env, wait_until_healthy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SUBMIT = "/v3/async/vidu-q2-pro-img2video"
RESULT = "/v3/async/task-result"
TASKS = 50
OUTAGE_S = 10
SUCCEED, FAILED = "TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    with private_postgres() as running:
        yield running


def test_a_database_outage_mid_run_loses_nothing(tmp_path: Path, cluster: PrivatePostgres) -> None:
    data_dir = tmp_path / "var"
    # A short lease: a task whose publish gave up is taken again soon after.
    env = vidgate_env(data_dir, cluster.url, sweep_interval="1", lease_seconds="15")
    key = run_vidgate(env, "keys", "create", "--name", "outage")
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = {name: tmp_path / f"{name}.log" for name in ("api", "worker-1", "worker-2")}
    processes = [start_vidgate(env, logs["api"], "serve", "--workers", "0", "--port", str(port))]
    processes += [start_vidgate(env, logs[f"worker-{i}"], "worker") for i in (1, 2)]
    image = data_uri(make_image(64, 48))
    body = {"images": [image], "prompt": "zoom in", "duration": 1, "resolution": "540p"}
    try:
        wait_until_healthy(base, processes[0], logs["api"])
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http, ThreadPoolExecutor(10) as pool:

            def submit(i: int) -> str:
                answer = http.post(SUBMIT, json=body | {"seed": i}, headers={"Idempotency-Key": f"k-{i}"})
                assert answer.status_code == 200, answer.text
                return str(answer.json()["task_id"])

            def status(task_id: str) -> str:
                return str(http.get(RESULT, params={"task_id": task_id}).json()["task"]["status"])

            task_ids = list(pool.map(submit, range(TASKS)))
            # The outage comes with most tasks still queued or rendering.
            while sum(status(t) == SUCCEED for t in task_ids) < 3:
                time.sleep(0.05)
            cluster.stop()
            down_at = time.monotonic()
            answers = []
            while time.monotonic() - down_at < OUTAGE_S:
                answers.append(http.post(SUBMIT, json=body, headers={"Idempotency-Key": uuid.uuid4().hex}))
                answers.append(http.get(RESULT, params={"task_id": task_ids[-1]}))
                time.sleep(0.5)
            cluster.start()
            for answer in answers:
                assert answer.status_code == 503, answer.text
                assert answer.json()["reason"] == "SERVICE_UNAVAILABLE"
                assert int(answer.headers["Retry-After"]) >= 1
            assert [p.poll() for p in processes] == [None, None, None], "every process survived"

            # Back by itself: the API answers again, and the workers finish every task.
            deadline = time.monotonic() + 45
            documents: dict[str, dict] = {}  # type: ignore[type-arg]
            while len(documents) < TASKS:
                assert time.monotonic() < deadline, f"{TASKS - len(documents)} tasks never ended"
                for task_id in set(task_ids) - set(documents):
                    answer = http.get(RESULT, params={"task_id": task_id})
                    if answer.status_code == 200 and answer.json()["task"]["status"] in (SUCCEED, FAILED):
                        documents[task_id] = answer.json()
                time.sleep(0.2)
            # A client that retries its submit with its Idempotency-Key gets the same task.
            assert submit(7) == task_ids[7]
    finally:
        for process in processes:
            stop_vidgate(process)

    assert {d["task"]["status"] for d in documents.values()} == {SUCCEED}, [
        d["task"]["reason"] for d in documents.values() if d["task"]["status"] != SUCCEED
    ]
    published = {Path(urlparse(d["videos"][0]["video_url"]).path).name for d in documents.values()}
    assert len(published) == TASKS
    stored = {path.name for path in (data_dir / "objects" / "videos").iterdir()}
    assert stored == published, "one video per task: none published twice, no orphan files"
    assert list((data_dir / "work").iterdir()) == [], "no render left behind"
    api_log = logs["api"].read_text()
    assert "database unavailable on POST" in api_log and "Traceback" not in api_log
