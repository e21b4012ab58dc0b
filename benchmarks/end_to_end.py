"""End-to-end wall time of one 5 s 720p task through a real `vidgate serve`, next to `vidgate generate`
for the same job in the same run. Run: `.venv/bin/python benchmarks/end_to_end.py`.

Reports: submit -> SUCCEED (as a polling client sees it, 20 ms poll), submit -> downloaded, and the
`vidgate generate` process wall time (includes interpreter start and imports).
"""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

RUNS = 3
JOB = {"prompt": "slow zoom in", "duration": 5, "resolution": "720p", "seed": 1}


def photo_png() -> bytes:
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.linspace(0, 1, 1280), np.linspace(0, 1, 720))
    base = np.stack([200 * x + 30 * y, 120 + 80 * y * x, 220 - 150 * y], axis=-1)
    pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="vidgate-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_DATA_DIR": str(work / "var"), "VIDGATE_PORT": str(free_port())}
    vidgate = [sys.executable, "-m", "vidgate"]
    key = subprocess.run(
        [*vidgate, "keys", "create", "--name", "bench"], env=env, capture_output=True, text=True
    )
    headers = {"Authorization": f"Bearer {key.stdout.strip()}"}
    image = photo_png()
    (work / "photo.png").write_bytes(image)
    body = JOB | {"images": ["data:image/png;base64," + base64.b64encode(image).decode()]}
    base = f"http://127.0.0.1:{env['VIDGATE_PORT']}"
    server = subprocess.Popen(
        [*vidgate, "serve", "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(1.0)  # let the embedded worker finish starting
        to_succeed, to_download = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            task_id = httpx.post(f"{base}/v3/async/vidu-q2-pro-img2video", json=body, headers=headers).json()[
                "task_id"
            ]
            while True:
                doc = httpx.get(
                    f"{base}/v3/async/task-result", params={"task_id": task_id}, headers=headers
                ).json()
                if doc["task"]["status"] == "TASK_STATUS_SUCCEED":
                    break
                time.sleep(0.02)
            to_succeed.append(time.perf_counter() - started)
            httpx.get(doc["videos"][0]["video_url"]).raise_for_status()
            to_download.append(time.perf_counter() - started)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    generate = []
    for run in range(RUNS):
        started = time.perf_counter()
        subprocess.run(
            [*vidgate, "generate", str(work / "photo.png"), "--prompt", JOB["prompt"], "--duration", "5",
             "--resolution", "720p", "--seed", "1", "-o", str(work / f"gen-{run}.mp4")],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        generate.append(time.perf_counter() - started)
    print(f"5 s 720p24, one 1280x720 photo, {RUNS} runs each (median, min):")
    print(f"  serve: submit -> SUCCEED     {statistics.median(to_succeed):.2f} s  {min(to_succeed):.2f} s")
    print(f"  serve: submit -> downloaded  {statistics.median(to_download):.2f} s  {min(to_download):.2f} s")
    print(f"  vidgate generate (process)   {statistics.median(generate):.2f} s  {min(generate):.2f} s")


if __name__ == "__main__":
    main()
