"""A worker over a database that goes away: a finished render waits for it to come back within the
lease, a longer outage leaves the task to its next attempt, and the loop backs off quietly."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from support.api import Api
from support.media import data_uri, make_image
from vidgate.tasks.model import TaskStatus
from vidgate.worker.runner import Worker


def connection_lost() -> OperationalError:
    """What SQLAlchemy raises when PostgreSQL shuts down under a query."""
    return OperationalError(
        "UPDATE tasks ...", {}, Exception("terminating connection due to administrator command")
    )


def submit(api: Api) -> str:
    return str(
        api.submit(
            {"images": [data_uri(make_image())], "prompt": "x", "duration": 1, "resolution": "540p"}
        ).json()["task_id"]
    )


def make_worker(api: Api) -> Worker:
    s = api.services
    return Worker(s.settings, s.store, s.objects)


def stored_videos(api: Api) -> list[str]:
    return sorted(p.name for p in (api.services.settings.resolved_storage_dir() / "videos").glob("*.mp4"))


def fail_first(
    monkeypatch: pytest.MonkeyPatch, target: Any, name: str, times: int, commit: bool = False
) -> list[int]:
    """`target.name` raises `connection_lost()` on its first `times` calls (after doing its work, when
    `commit`: a commit whose answer was lost); the calls are counted in the list returned."""
    real, calls = getattr(target, name), [0]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            if commit:
                real(*args, **kwargs)
            raise connection_lost()
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, flaky)
    return calls


def test_a_finished_render_is_published_once_the_database_is_back(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = submit(api)
    calls = fail_first(monkeypatch, api.services.store, "complete", times=3)
    assert make_worker(api).run_once()
    task = api.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED and task.attempt == 1
    assert calls[0] == 4 and stored_videos(api) == [f"{task_id}-1.mp4"]


def test_a_publish_that_committed_before_its_answer_was_lost_keeps_its_video(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = submit(api)
    fail_first(monkeypatch, api.services.store, "complete", times=1, commit=True)
    assert make_worker(api).run_once()
    task = api.services.store.get_task(task_id)
    assert (
        task is not None
        and task.status is TaskStatus.SUCCEED
        and task.output_key == f"videos/{task_id}-1.mp4"
    )
    assert stored_videos(api) == [f"{task_id}-1.mp4"], (
        "the retry's refusal did not delete the published video"
    )


def test_an_outage_longer_than_the_lease_leaves_the_task_to_its_next_attempt(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    api.services.settings.lease_seconds = 0.5
    task_id = submit(api)
    fail_first(monkeypatch, api.services.store, "complete", times=1000)
    caplog.set_level(logging.INFO, "vidgate.worker")
    assert make_worker(api).run_once()
    task = api.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.PROCESSING and task.attempt == 1, (
        "nothing was written"
    )
    assert "left to expire" in caplog.text and "Traceback" not in caplog.text
    monkeypatch.undo()
    time.sleep(0.5)  # the lease runs out; the next worker takes the task and cleans up after attempt 1
    assert make_worker(api).run_once()
    task = api.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED and task.attempt == 2
    assert stored_videos(api) == [f"{task_id}-2.mp4"]


def test_the_loop_backs_off_while_the_database_is_down_and_says_so_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    calls = fail_first(monkeypatch, api.services.store, "claim", times=1000)
    caplog.set_level(logging.INFO, "vidgate.worker")
    stop = threading.Event()
    running = threading.Thread(target=make_worker(api).run, args=(stop,))
    running.start()
    time.sleep(1.0)
    tries_while_down = calls[0]
    monkeypatch.undo()  # the database is back: the loop picks up work again by itself
    task_id = submit(api)
    deadline = time.monotonic() + 10
    while (
        task := api.services.store.get_task(task_id)
    ) is not None and task.status is not TaskStatus.SUCCEED:
        assert time.monotonic() < deadline, "the loop did not come back"
        time.sleep(0.05)
    stop.set()
    running.join(timeout=10)
    # 0.1, 0.2, 0.4 s ...: a handful of tries in a second, where the 50 ms poll would make twenty.
    assert 2 <= tries_while_down <= 6
    lines = [r for r in caplog.records if "database unreachable" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "database reachable again" in caplog.text
