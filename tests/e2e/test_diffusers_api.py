"""The diffusers engine end to end: `vidgate serve` (API only) and `vidgate worker --engines diffusers`
on a tiny random Wan 2.2 TI2V-5B folder, over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from e2e.test_processes import Server, server_env, serving, start, stop
from support.media import data_uri, make_image, probe

pytestmark = pytest.mark.slow


def diffusers_env(tmp_path: Path, folder: Path, steps: int = 2) -> dict[str, str]:
    return server_env(
        tmp_path,
        VIDGATE_ENGINES="diffusers",
        VIDGATE_ENGINE="diffusers",
        VIDGATE_DIFFUSERS_MODEL_PATH=str(folder),
        VIDGATE_DIFFUSERS_GENERATION_SHORT_SIDE="32",
        VIDGATE_DIFFUSERS_STEPS=str(steps),
        VIDGATE_DIFFUSERS_DEVICE="cpu",
    )


def body(duration: int = 1, seed: int = 3) -> dict[str, object]:
    image = data_uri(make_image(640, 360, seed=1))
    return {
        "images": [image],
        "prompt": "a cat walks",
        "duration": duration,
        "resolution": "540p",
        "seed": seed,
    }


def wait_for_progress(server: Server, task_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while server.result(task_id)["task"]["progress_percent"] <= 0:
        assert time.monotonic() < deadline, "the render did not start"
        time.sleep(0.05)


def test_a_task_renders_through_the_api(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    env = diffusers_env(tmp_path, wan_ti2v_folder)
    with serving(env, tmp_path, workers=0) as server:
        worker = start(["worker", "--engines", "diffusers"], env, tmp_path / "worker.log")
        try:
            document = server.wait(server.submit(body()), timeout=120)
            assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
            info = probe(server.download(document, tmp_path / "video.mp4"))
            assert (info["width"], info["height"], info["frames"], info["fps"]) == (960, 540, 24, 24)
        finally:
            stop(worker)


def test_the_worker_stops_at_start_naming_a_missing_folder(tmp_path: Path) -> None:
    env = diffusers_env(tmp_path, tmp_path / "nowhere")
    result = subprocess.run(
        [sys.executable, "-m", "vidgate", "worker", "--engines", "diffusers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "VIDGATE_DIFFUSERS_MODEL_PATH" in result.stderr and "does not exist" in result.stderr


def test_a_worker_killed_mid_render_leaves_the_task_to_the_next(
    wan_ti2v_folder: Path, tmp_path: Path
) -> None:
    env = diffusers_env(tmp_path, wan_ti2v_folder, steps=40)  # long enough to be caught mid-denoise
    with serving(env, tmp_path, workers=0) as server:
        task_id = server.submit(body())
        first = start(["worker", "--engines", "diffusers"], env, tmp_path / "worker-1.log")
        wait_for_progress(server, task_id)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = start(["worker", "--engines", "diffusers"], env, tmp_path / "worker-2.log")
        try:
            document = server.wait(task_id, timeout=180)
            assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
        finally:
            stop(second)
