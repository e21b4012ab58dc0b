"""`vidgate serve --api-workers 2`: two API processes on one port, with the embedded worker and the
dev key set up once, not per API process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from support.live import free_port
from support.media import data_uri, make_image
from support.processes import start_vidgate, stop_vidgate, vidgate_env, wait_until_healthy

pytestmark = pytest.mark.slow


def test_serve_with_two_api_processes(tmp_path: Path) -> None:
    env = vidgate_env(tmp_path / "var")
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    options = ["--api-workers", "2", "--workers", "1", "--dev", "--port", str(port)]
    serve = start_vidgate(env, log, "serve", *options)
    try:
        wait_until_healthy(base, serve, log)
        # Each API process says when it is up; both must be, before the log is read.
        deadline = time.monotonic() + 30
        while len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) < 2:
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        keys = re.findall(r"Dev API key: (\S+)", log.read_text())
        assert len(keys) == 1, "the dev key is made and printed once"
        headers = {"Authorization": f"Bearer {keys[0]}"}
        image = data_uri(make_image(64, 48))
        body = {"images": [image], "prompt": "zoom in", "duration": 1, "resolution": "540p"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            task_id = http.post("/v3/async/vidu-q2-pro-img2video", json=body).json()["task_id"]
            task = _wait_until_ended(http, task_id)
            assert task["task"]["status"] == "TASK_STATUS_SUCCEED", task
            # Signed by one API process, the video link is honoured by either (the kept signing secret).
            for _ in range(6):
                assert http.get(task["videos"][0]["video_url"]).status_code == 200
    finally:
        stop_vidgate(serve)
    assert serve.returncode == 0, log.read_text()


def _wait_until_ended(http: httpx.Client, task_id: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while True:
        task = http.get("/v3/async/task-result", params={"task_id": task_id}).json()
        if task["task"]["status"] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED"):
            return task  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, task
        time.sleep(0.1)
