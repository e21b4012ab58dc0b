"""The diffusers engine through the API and a real (in-process) worker, for each family on its tiny
random folder: the contract's frames and size, rising progress, a cancel mid-denoise and a GPU
out-of-memory ending the task in words, and the worker serving the next task."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="the diffusers extra is not installed")

import torch
from fastapi.testclient import TestClient

from support.api import Api
from support.media import data_uri, make_image, probe
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.worker.runner import Worker


def gateway(
    tmp_path: Path, folder: Path, steps: int = 2, short_side: int = 32
) -> Iterator[tuple[Api, Worker]]:
    settings = Settings(
        data_dir=tmp_path / "var",
        engines=["diffusers"],
        diffusers_model_path=folder,
        diffusers_generation_short_side=short_side,
        diffusers_steps=steps,
        diffusers_device="cpu",
        _env_file=None,  # type: ignore[call-arg]
    )
    services = build_services(settings)
    _record, key = services.store.keys.create("alice")
    worker = Worker(settings, services.store, services.objects, progress_interval_s=0.0)
    with TestClient(create_app(settings, services)) as client:
        yield Api(client, services, key, {"Authorization": f"Bearer {key}"}), worker
    worker.close()


@pytest.fixture
def ti2v(tmp_path: Path, wan_ti2v_folder: Path) -> Iterator[tuple[Api, Worker]]:
    yield from gateway(tmp_path, wan_ti2v_folder)


@pytest.fixture
def slow_ti2v(tmp_path: Path, wan_ti2v_folder: Path) -> Iterator[tuple[Api, Worker]]:
    """Long enough (seconds) for a cancel, which a worker notices within a second, to land mid-denoise."""
    yield from gateway(tmp_path, wan_ti2v_folder, steps=200, short_side=96)


def submit(api: Api, images: int = 1, duration: int = 1) -> str:
    body = {
        "images": [data_uri(make_image(320, 180, seed=i)) for i in range(images)],
        "prompt": "a cat walks",
        "duration": duration,
        "resolution": "540p",
        "seed": 3,
    }
    response = api.submit(body)
    assert response.status_code == 200, response.json()
    return str(response.json()["task_id"])


@pytest.mark.parametrize(
    ("folder", "images"), [("wan_ti2v_folder", 1), ("wan_a14b_folder", 2), ("ltx2_folder", 3)]
)
def test_each_family_makes_the_contracts_video(
    tmp_path: Path, request: pytest.FixtureRequest, folder: str, images: int
) -> None:
    for api, worker in gateway(tmp_path, request.getfixturevalue(folder)):
        task_id = submit(api, images=images)
        assert worker.run_once()
        document = api.result(task_id).json()
        assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document["task"]["reason"]
        assert document["extra"]["engine"] == "diffusers" and document["extra"]["seed"] == "3"
        video = api.client.get(document["videos"][0]["video_url"])
        (tmp_path / "out.mp4").write_bytes(video.content)
        info = probe(tmp_path / "out.mp4")
        assert (info["width"], info["height"], info["frames"], info["fps"]) == (960, 540, 24, 24.0)


def test_progress_rises_and_a_cancel_stops_the_denoising(slow_ti2v: tuple[Api, Worker]) -> None:
    api, worker = slow_ti2v
    task_id = submit(api)
    seen: list[int] = []
    running = threading.Thread(target=worker.run_once)
    running.start()
    deadline = time.monotonic() + 60
    while not seen or seen[-1] <= 5:  # past the inputs' share: denoising has begun
        assert time.monotonic() < deadline, "no progress"
        seen.append(api.result(task_id).json()["task"]["progress_percent"])
        time.sleep(0.02)
    api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    running.join(timeout=60)
    document = api.result(task_id).json()
    assert document["task"]["reason"] == "CANCELED" and document["videos"] == []
    assert seen == sorted(seen), "progress never goes backwards"
    assert document["extra"]["cancelled_at_step"] < 200, "stopped mid-denoise, not at its end"


def test_a_gpu_out_of_memory_fails_in_words_and_the_worker_serves_the_next(
    ti2v: tuple[Api, Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, worker = ti2v
    vae = worker.engines["diffusers"].pipe.vae  # type: ignore[attr-defined]

    def out_of_memory(*_args: object, **_kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(vae, "decode", out_of_memory)
    failed = submit(api)
    assert worker.run_once()
    task = api.result(failed).json()["task"]
    assert task["status"] == "TASK_STATUS_FAILED" and task["reason"].startswith("GPU_OUT_OF_MEMORY: ")
    assert "VIDGATE_DIFFUSERS_GENERATION_SHORT_SIDE" in task["reason"]
    stored = api.services.store.get_task(failed)
    assert stored is not None and stored.attempt == 1, "not retried at the same size"
    monkeypatch.undo()
    served = submit(api)
    assert worker.run_once()
    assert api.result(served).json()["task"]["status"] == "TASK_STATUS_SUCCEED"
