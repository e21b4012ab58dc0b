"""Idle workers wake when work arrives: NOTIFY on PostgreSQL, a short poll on SQLite."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from support.media import data_uri, make_image
from vidgate.api.service import Services
from vidgate.schemas import SubmitRequest
from vidgate.settings import Settings
from vidgate.storage.local import LocalStore
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import TaskStatus
from vidgate.worker.runner import Worker


def test_an_idle_worker_picks_up_new_work_promptly(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    listens = store.engine.dialect.name == "postgresql"
    # On PostgreSQL the poll interval is made long on purpose: only the notification can be this quick.
    slow = 30.0 if listens else 0.05
    settings = settings.model_copy(update={"poll_interval": slow, "sweep_interval": slow})
    objects = LocalStore(tmp_path / "objects")
    services = Services(settings, store, objects, "secret")
    worker = Worker(settings, store, objects)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)  # the worker is idle, waiting
        request = SubmitRequest(images=[data_uri(make_image())], prompt="x", duration=1, resolution="540p")
        task = services.submit("alice", request)
        deadline = time.monotonic() + 5
        while (current := store.get_task(task.id)) is not None and current.status is TaskStatus.QUEUED:
            assert time.monotonic() < deadline, "the idle worker never woke"
            time.sleep(0.005)
        assert current is not None and current.started_ms is not None
        assert current.started_ms - task.created_ms < 1000
    finally:
        stop.set()
        thread.join(timeout=40)
    assert not thread.is_alive()
