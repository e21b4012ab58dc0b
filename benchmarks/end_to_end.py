"""End-to-end wall time of one 5 s 720p task through a real `vidgate serve`, next to `vidgate generate`
for the same job in the same run. Run: `.venv/bin/python benchmarks/end_to_end.py`.

Reports: submit -> SUCCEED (as a polling client sees it, 20 ms poll), submit -> downloaded, and the
`vidgate generate` process wall time (includes interpreter start and imports).
"""

from __future__ import annotations

import base64
import statistics
import subprocess
import time

import httpx
from common import VIDGATE, photo_pixels, png, running_server

RUNS = 3
JOB = {"prompt": "slow zoom in", "duration": 5, "resolution": "720p", "seed": 1}


def main() -> None:
    image = png(photo_pixels())
    body = JOB | {"images": ["data:image/png;base64," + base64.b64encode(image).decode()]}
    with running_server(workers=1) as server:
        (server.work / "photo.png").write_bytes(image)
        to_succeed, to_download, pickup = [], [], []
        with httpx.Client(base_url=server.base_url, headers=server.headers) as http:
            for _ in range(RUNS):
                started = time.perf_counter()
                task_id = http.post("/v3/async/vidu-q2-pro-img2video", json=body).json()["task_id"]
                while True:
                    doc = http.get("/v3/async/task-result", params={"task_id": task_id}).json()
                    if doc["task"]["status"] == "TASK_STATUS_SUCCEED":
                        break
                    time.sleep(0.02)
                to_succeed.append(time.perf_counter() - started)
                times = doc["extra"]["debug_info"]
                pickup.append((int(times["execute_time_ms"]) - int(times["submit_time_ms"])) / 1000)
                httpx.get(doc["videos"][0]["video_url"]).raise_for_status()
                to_download.append(time.perf_counter() - started)
    work, env = server.work, server.env
    generate = []
    for run in range(RUNS):
        started = time.perf_counter()
        subprocess.run(
            [*VIDGATE, "generate", str(work / "photo.png"), "--prompt", JOB["prompt"], "--duration", "5",
             "--resolution", "720p", "--seed", "1", "-o", str(work / f"gen-{run}.mp4")],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        generate.append(time.perf_counter() - started)
    print(f"5 s 720p24, one 1280x720 photo, {RUNS} runs each (median, min):")
    print(f"  serve: submit -> SUCCEED     {statistics.median(to_succeed):.2f} s  {min(to_succeed):.2f} s")
    print(f"  serve: submit -> downloaded  {statistics.median(to_download):.2f} s  {min(to_download):.2f} s")
    pickup_ms = [p * 1000 for p in pickup]
    print(f"  idle worker pick-up          {statistics.median(pickup_ms):.0f} ms  {min(pickup_ms):.0f} ms")
    print(f"  vidgate generate (process)   {statistics.median(generate):.2f} s  {min(generate):.2f} s")


if __name__ == "__main__":
    main()
