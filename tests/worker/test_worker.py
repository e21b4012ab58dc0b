"""The worker on a real store, real engine and real HTTP image server, in-process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from support.api import Api
from support.media import data_uri, make_image, probe
from support.servers import ImageServer
from vidgate import clock
from vidgate.engines.base import CancelCheck, ProgressCallback, RenderJob, RenderResult
from vidgate.engines.motion import MotionEngine
from vidgate.inputs.images import input_key
from vidgate.tasks.model import TaskStatus
from vidgate.worker.gc import collect_garbage
from vidgate.worker.runner import Heartbeat, Worker, video_key


def make_worker(api: Api, engine: object | None = None) -> Worker:
    s = api.services
    return Worker(s.settings, s.store, s.objects, engine)  # type: ignore[arg-type]


def stored_videos(api: Api) -> list[Path]:
    return sorted((api.services.settings.resolved_storage_dir() / "videos").glob("*.mp4"))


def test_url_inputs_are_fetched_once_and_kept_for_retries(api: Api, image_server: ImageServer) -> None:
    url = image_server.add("/photo.png", make_image(width=360, height=640))
    task_id = api.submit({"images": [url], "prompt": "tilt up", "duration": 1, "resolution": "540p"}).json()[
        "task_id"
    ]
    assert image_server.hits == {}, "submit does not download; the worker does"
    assert make_worker(api).run_once()
    task = api.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED, task
    assert task.params.images[0].startswith("sha256:"), "the fetched image is recorded by hash"
    assert image_server.hits == {"/photo.png": 1}
    info = probe(stored_videos(api)[0])
    assert (info["width"], info["height"], info["frames"]) == (540, 960, 24), "portrait keeps its aspect"


def test_a_url_that_is_not_an_image_fails_the_task_with_a_reason(api: Api, image_server: ImageServer) -> None:
    page = image_server.add("/page.html", b"<html>hello</html>", content_type="text/html")
    missing = image_server.base_url + "/missing.png"
    for url, expected in ((page, "INVALID_IMAGE_URL"), (missing, "INVALID_IMAGE_URL")):
        task_id = api.submit({"images": [url], "prompt": "x", "duration": 1}).json()["task_id"]
        assert make_worker(api).run_once()
        result = api.result(task_id).json()["task"]
        assert result["status"] == "TASK_STATUS_FAILED"
        assert result["reason"].startswith(expected) and "images[0]" in result["reason"]
    wide = image_server.add("/wide.png", make_image(width=900, height=100))
    task_id = api.submit({"images": [wide], "prompt": "x", "duration": 1}).json()["task_id"]
    make_worker(api).run_once()
    assert api.result(task_id).json()["task"]["reason"].startswith("INVALID_IMAGE_SIZE")


def test_progress_rises_while_rendering(api: Api) -> None:
    task_id = api.submit(
        {
            "images": [data_uri(make_image(1280, 720))],
            "prompt": "pan left",
            "duration": 4,
            "resolution": "720p",
        }
    ).json()["task_id"]
    seen: list[int] = []
    worker = make_worker(api)
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    while thread.is_alive():
        seen.append(api.result(task_id).json()["task"]["progress_percent"])
        time.sleep(0.05)
    thread.join()
    seen.append(api.result(task_id).json()["task"]["progress_percent"])
    assert seen == sorted(seen) and seen[-1] == 100
    assert any(0 < p < 100 for p in seen), seen


class FlakyEngine:
    """Fails its first render with an unexpected fault, then renders normally."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("transient fault")
        return MotionEngine().render(job, on_progress, should_cancel)


def test_an_unexpected_fault_is_retried_then_succeeds(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    worker = make_worker(api, FlakyEngine())
    assert worker.run_once() and worker.run_once()
    task = api.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED and task.attempt == 2
    assert [p.name for p in stored_videos(api)] == [f"{task_id}-2.mp4"]


class BrokenEngine:
    name = "broken"

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        raise RuntimeError("always broken")


def test_faults_on_every_attempt_end_failed(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    worker = make_worker(api, BrokenEngine())
    for _ in range(api.services.settings.max_attempts):
        assert worker.run_once()
    assert not worker.run_once()
    result = api.result(task_id).json()["task"]
    assert result["status"] == "TASK_STATUS_FAILED" and result["reason"].startswith("RENDER_FAILED")


class SlowEngine:
    """Renders slowly so a test can act mid-render; honours cancellation like a real engine."""

    name = "slow"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        from vidgate.engines.base import RenderCancelled

        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            if should_cancel():
                raise RenderCancelled
            time.sleep(0.02)
        return MotionEngine().render(job, on_progress, should_cancel)


def test_cancel_stops_a_running_task(api: Api) -> None:
    api.services.settings.lease_seconds = 0.3  # heartbeat (and cancel check) every 0.1 s
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    worker = make_worker(api, SlowEngine(5))
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    while api.result(task_id).json()["task"]["status"] != "TASK_STATUS_PROCESSING":
        time.sleep(0.01)
    api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    thread.join(timeout=3)
    assert not thread.is_alive()
    result = api.result(task_id).json()["task"]
    assert result["status"] == "TASK_STATUS_FAILED" and result["reason"] == "CANCELED"
    assert stored_videos(api) == []


def test_cancel_is_noticed_within_a_second_however_long_the_lease(api: Api) -> None:
    api.services.settings.lease_seconds = 30.0  # the default: lease renewals every 10 s
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    thread = threading.Thread(target=make_worker(api, SlowEngine(20)).run_once)
    thread.start()
    while api.result(task_id).json()["task"]["status"] != "TASK_STATUS_PROCESSING":
        time.sleep(0.01)
    asked = time.monotonic()
    api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - asked < 3
    assert api.result(task_id).json()["task"]["reason"] == "CANCELED"


class CancelledAtTheEndEngine:
    """A render that finishes just as the task's cancel comes in: after its last look at should_cancel."""

    name = "cancelled-at-the-end"

    def __init__(self, api: Api) -> None:
        self.api = api

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        result = MotionEngine().render(job, on_progress, should_cancel)
        task = self.api.services.store.list_tasks("alice", limit=1)[0]
        self.api.client.post("/v3/async/task-cancel", params={"task_id": task.id}, headers=self.api.headers)
        return result


def test_a_cancel_that_arrives_as_the_render_ends_wins_over_success(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    assert make_worker(api, CancelledAtTheEndEngine(api)).run_once()
    result = api.result(task_id).json()
    assert result["task"]["status"] == "TASK_STATUS_FAILED" and result["task"]["reason"] == "CANCELED"
    assert result["videos"] == [] and stored_videos(api) == [], "the finished video is not kept"


def test_a_worker_that_lost_its_lease_publishes_nothing(api: Api) -> None:
    """A paused worker (GC, swap, partition) comes back after another attempt took over: its result
    is thrown away, the newer attempt's stands, and no file of the old attempt lingers."""
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    slow = make_worker(api, SlowEngine(1.0))
    task = api.services.store.claim(slow.worker_id, lease_seconds=0.3)
    assert task is not None
    # A heartbeat that does not beat in time, as in a paused process: the lease expires mid-render.
    stalled = Heartbeat(api.services.store, task, lease_seconds=1000.0)
    thread = threading.Thread(target=slow.run_task, args=(task, stalled))
    thread.start()
    time.sleep(0.4)
    fast = make_worker(api)
    assert fast.run_once()  # claims the expired lease as attempt 2 and finishes
    thread.join()
    done = api.services.store.get_task(task_id)
    assert done is not None and done.status is TaskStatus.SUCCEED and done.attempt == 2
    assert [p.name for p in stored_videos(api)] == [f"{task_id}-2.mp4"]


def test_a_normal_task_submitted_after_an_off_peak_one_runs_first(api: Api) -> None:
    body = {"images": [data_uri(make_image())], "prompt": "x", "duration": 1, "resolution": "540p"}
    off_peak = api.submit(body | {"off_peak": True}).json()["task_id"]
    time.sleep(0.002)
    normal = api.submit(body).json()["task_id"]
    worker = make_worker(api)
    assert worker.run_once()
    assert api.result(normal).json()["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert api.result(off_peak).json()["task"]["status"] == "TASK_STATUS_QUEUED"
    assert worker.run_once(), "with nothing else waiting, the off-peak task runs"
    assert api.result(off_peak).json()["task"]["status"] == "TASK_STATUS_SUCCEED"


def test_a_database_blip_while_reporting_progress_does_not_abort_the_render(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 2}).json()["task_id"]
    store = api.services.store

    def flaky_progress(*_args: object) -> bool:
        raise OSError("database is locked")

    monkeypatch.setattr(store, "set_progress", flaky_progress)
    s = api.services
    assert Worker(s.settings, s.store, s.objects, progress_interval_s=0.0).run_once()
    task = store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED and task.attempt == 1


@pytest.mark.parametrize("ending", ["last attempt", "cancelled"])
def test_the_sweeper_removes_what_a_dead_workers_attempt_left(api: Api, ending: str) -> None:
    """No later attempt follows a task the sweeper fails (its last attempt's worker was killed, or it
    was cancelled while its worker lay dead), so the sweeping worker removes the dead attempt's
    partial encode and unpublished video; found by benchmarks/chaos.py."""
    api.services.settings.max_attempts = 1 if ending == "last attempt" else 3
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    survivor = make_worker(api)
    assert api.services.store.claim("killed-worker", lease_seconds=0.2) is not None
    # What a SIGKILL mid-encode and one between upload and publish leave behind:
    partial = survivor.work_dir / f".{task_id}-1.mp4.0123456789abcdef.part"
    partial.write_bytes(b"half an mp4")
    api.services.objects.put_bytes(video_key(task_id, 1), b"an mp4 never published")
    if ending == "cancelled":
        api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    time.sleep(0.3)
    survivor.sweep()
    result = api.result(task_id).json()["task"]
    reason = "MAX_ATTEMPTS_EXCEEDED" if ending == "last attempt" else "CANCELED"
    assert result["status"] == "TASK_STATUS_FAILED" and result["reason"] == reason
    assert not partial.exists() and stored_videos(api) == []


@pytest.mark.parametrize(("retention", "kept"), [("7d", False), ("0", True)])
def test_the_sweep_deletes_what_outlived_retention(api: Api, retention: str, kept: bool) -> None:

    api.services.settings.retention = retention
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "zoom in", "duration": 1}).json()[
        "task_id"
    ]
    worker = make_worker(api)
    assert worker.run_once() and len(stored_videos(api)) == 1
    worker.sweep()
    assert len(stored_videos(api)) == 1, "not a week old yet"
    with clock.moved(8 * 86400):
        worker.sweep()
    assert len(stored_videos(api)) == (1 if kept else 0)
    assert ("expired" in api.result(task_id).json()["extra"]) is not kept


def test_a_fetched_input_the_sweeper_takes_before_it_is_recorded_is_stored_again(
    api: Api, image_server: ImageServer
) -> None:
    """Until the task records a fetched image's hash, no live task names it: a sweep (a week later on
    its clock) landing between the worker's store and that record deletes it; the record sees the
    row gone, and the worker stores the image again before rendering."""
    swept: list[int] = []
    objects = api.services.objects
    real_exists = objects.exists

    def exists_then_sweep(key: str) -> bool:
        there = real_exists(key)
        if key.startswith("inputs/") and not there and not swept:
            objects.put_bytes(key, b"")  # what the worker's put would make; the sweep then deletes it
            with clock.moved(8 * 86400):
                swept.append(collect_garbage(api.services.store, objects, 7 * 86400).inputs)
            return True  # as it was when checked: the worker skips its put
        return there

    objects.exists = exists_then_sweep  # type: ignore[method-assign]
    url = image_server.add("/photo.png", make_image(width=320, height=180))
    task_id = api.submit({"images": [url], "prompt": "zoom in", "duration": 1}).json()["task_id"]
    assert make_worker(api).run_once()
    assert swept == [1]
    task = api.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED, task.reason if task else None
    assert real_exists(input_key(task.params.images[0].removeprefix("sha256:")))
