"""The gateway's end-to-end overhead over the provider's own time: `vidgate serve` (API and one
embedded worker running the vidu engine) against the test fake of the Vidu API on 127.0.0.1.

The fake's task moves created -> queueing -> processing -> success, one state every STEP_S, so the
provider's own time is 3 * STEP_S. Measured as a client meets it: from sending the submit to the
first task-result that shows TASK_STATUS_SUCCEED (polled every POLL_S), less the provider's time.
That covers the API, the queue, the claim, the upstream create, following the task (default poll
settings), the copy into vidgate's storage, the PyAV check and the tagging remux. Two ways of
following: polling alone, and the provider's signed callbacks (VIDGATE_PUBLIC_BASE_URL set).

Run: `.venv/bin/python benchmarks/gateway.py`
"""

from __future__ import annotations

import base64
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake provider

from common import photo_pixels, png, running_server  # noqa: E402

from fakes.vidu_provider import API_KEY, running_fake  # noqa: E402

STEP_S = 0.5
POLL_S = 0.02
RUNS = 5


def one_task(base_url: str, headers: dict[str, str], image: str) -> float:
    body = {"images": [image], "prompt": "waves", "duration": 1, "extra": {"engine": "vidu"}}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        started = time.monotonic()
        task_id = http.post("/v3/async/vidu-q2-pro-img2video", json=body).json()["task_id"]
        while True:
            task = http.get("/v3/async/task-result", params={"task_id": task_id}).json()["task"]
            if task["status"] == "TASK_STATUS_SUCCEED":
                return time.monotonic() - started - 3 * STEP_S
            if task["status"] == "TASK_STATUS_FAILED":
                raise RuntimeError(task["reason"])
            time.sleep(POLL_S)


def main() -> None:
    image = "data:image/png;base64," + base64.b64encode(png(photo_pixels(320, 180))).decode()
    print(f"gateway overhead over the provider's {3 * STEP_S:.1f} s, {RUNS} tasks each, medians")
    with running_fake() as fake:
        fake.step_seconds = STEP_S
        for following, callbacks in (("polling only", False), ("signed callbacks", True)):
            fake.send_callbacks = callbacks
            settings = {
                "VIDGATE_ENGINES": "motion,vidu",
                "VIDGATE_VIDU_API_KEY": API_KEY,
                "VIDGATE_VIDU_BASE_URL": fake.base_url,
                "VIDGATE_VIDU_ALLOW_PROVIDER_HOST": "true",
            } | ({"VIDGATE_PUBLIC_BASE_URL": "http://127.0.0.1:{port}"} if callbacks else {})
            with running_server(workers=1, settings=settings) as server:
                one_task(server.base_url, server.headers, image)  # warm: the first task loads the engine
                overheads = [one_task(server.base_url, server.headers, image) for _ in range(RUNS)]
            print(
                f"| {following} | {statistics.median(overheads):.3f} | {min(overheads):.3f} | "
                f"{max(overheads):.3f} |"
            )


if __name__ == "__main__":
    main()
