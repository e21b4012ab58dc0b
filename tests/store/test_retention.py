"""Retention in the store and the sweeper's pass (worker/gc.py), on SQLite and PostgreSQL: videos and
inputs past VIDGATE_RETENTION go, once each; an input a live task names, or a submit is reusing, never."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from support.media import data_uri, make_image
from vidgate import clock
from vidgate.api.service import Services
from vidgate.errors import ServiceUnavailable
from vidgate.inputs.images import input_key, normalise
from vidgate.schemas import SubmitRequest
from vidgate.settings import Settings
from vidgate.storage import ObjectStore, open_store
from vidgate.storage.local import LocalStore
from vidgate.store.db import migrate, open_engine
from vidgate.store.retention import InputsGone
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import TaskStatus
from vidgate.tasks.retention import parse_retention
from vidgate.worker.gc import collect_garbage

DAY = 86400.0
LIMITS = {"max_bytes": 50 * 1024 * 1024, "max_pixels": 40_000_000}


def services_on(store: SqlTaskStore, settings: Settings, objects: ObjectStore) -> Services:
    return Services(settings=settings, store=store, objects=objects, signing_secret="s" * 32)


def request_for(image: bytes) -> SubmitRequest:
    return SubmitRequest.model_validate({"images": [data_uri(image)], "prompt": "zoom in", "duration": 1})


def digest_of(image: bytes) -> str:
    return hashlib.sha256(normalise(image, 0, **LIMITS)).hexdigest()


def finish(store: SqlTaskStore, objects: ObjectStore, tmp_path: Path) -> tuple[str, str, int]:
    """Claim the next task and publish a video for it: (task id, video key, its size)."""
    task = store.claim("w", 30)
    assert task is not None
    key = f"videos/{task.id}-{task.attempt}.mp4"
    source = tmp_path / f"{task.id}.mp4"
    source.write_bytes(b"\0\0\0\x18ftypisom" + b"x" * 1000)
    objects.put_file(key, source)
    assert store.complete(task.id, task.attempt, key, {})
    return task.id, key, 1012


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 7 * DAY),
        ("36h", 36 * 3600),
        ("30m", 1800),
        ("90s", 90),
        ("45", 45),
        ("1.5h", 5400),
        ("0", None),
    ],
)
def test_retention_takes_days_hours_minutes_or_seconds(text: str, seconds: float | None) -> None:
    assert parse_retention(text) == seconds


@pytest.mark.parametrize("text", ["", "7w", "-1d", "d", "7 days"])
def test_a_retention_that_is_not_one_is_refused_in_the_settings(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a retention"):
        Settings(data_dir=tmp_path, retention=text, _env_file=None)  # type: ignore[call-arg]


def test_videos_and_inputs_past_retention_go_and_the_task_stays_expired(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    objects = LocalStore(tmp_path / "objects")
    services = services_on(store, settings, objects)
    image = make_image(64, 48)
    services.submit("t", request_for(image))
    task_id, key, size = finish(store, objects, tmp_path)
    input_object = input_key(digest_of(image))
    input_size = objects.size(input_object)
    assert input_size and objects.exists(key)

    assert collect_garbage(store, objects, DAY).keys == [], "nothing is a day old yet"
    with clock.moved(DAY + 1):
        looked = collect_garbage(store, objects, DAY, dry_run=True)
        assert (looked.videos, looked.inputs, looked.bytes) == (1, 1, size + input_size)
        assert objects.exists(key) and objects.exists(input_object), "a dry run deletes nothing"
        done = collect_garbage(store, objects, DAY)
        assert (done.videos, done.inputs, done.bytes) == (1, 1, size + input_size)
        assert sorted(done.keys) == sorted([key, input_object])
        assert collect_garbage(store, objects, DAY).keys == [], "each goes once"
    assert not objects.exists(key) and not objects.exists(input_object)
    task = store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.SUCCEED and task.expired_ms is not None
    document = services.result_document(task, "http://testserver/")
    assert document.videos == [] and document.extra.model_dump()["expired"] is True
    assert store.retention.is_expired_video(key) and not store.retention.is_expired_video("videos/x-1.mp4")


@pytest.mark.s3
def test_retention_deletes_from_a_bucket_too(s3_settings: Settings, tmp_path: Path) -> None:
    objects = open_store(s3_settings)
    store = SqlTaskStore(open_engine(s3_settings.resolved_database_url()))
    migrate(store.engine)
    image = make_image(64, 48, seed=11)
    services_on(store, s3_settings, objects).submit("t", request_for(image))
    _task_id, key, size = finish(store, objects, tmp_path)
    with clock.moved(DAY + 1):
        report = collect_garbage(store, objects, DAY)
    assert (report.videos, report.inputs) == (1, 1) and report.bytes > size
    assert objects.size(key) is None and not objects.exists(input_key(digest_of(image)))
    store.engine.dispose()


def test_an_input_a_queued_task_names_outlives_retention(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    objects = LocalStore(tmp_path / "objects")
    image = make_image(64, 48, seed=3)
    services_on(store, settings, objects).submit("t", request_for(image))
    with clock.moved(30 * DAY):
        assert collect_garbage(store, objects, DAY).inputs == 0
    assert objects.exists(input_key(digest_of(image)))


def test_a_failed_delete_keeps_the_row_for_the_next_pass(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    class Unreliable(LocalStore):
        failing = True

        def delete(self, key: str) -> None:
            if self.failing:
                raise OSError("the bucket said no")
            super().delete(key)

    objects = Unreliable(tmp_path / "objects")
    services_on(store, settings, objects).submit("t", request_for(make_image(64, 48)))
    task_id, key, _size = finish(store, objects, tmp_path)
    with clock.moved(DAY + 1):
        with pytest.raises(OSError, match="said no"):
            collect_garbage(store, objects, DAY)
        task = store.get_task(task_id)
        assert task is not None and task.expired_ms is None, "the task still has its video"
        objects.failing = False
        assert collect_garbage(store, objects, DAY).videos == 1
    assert not objects.exists(key)


def test_a_submit_whose_input_the_sweeper_took_meanwhile_puts_it_back(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    """The race by hand: the submit finds the object there, then a sweep (a day later on its clock)
    deletes row and object before the task's insert; the insert sees the row gone and the submit
    stores the image again."""
    swept: list[int] = []

    class SweptMeanwhile(LocalStore):
        def exists(self, key: str) -> bool:
            there = super().exists(key)
            if there and key.startswith("inputs/") and not swept:
                with clock.moved(2 * DAY):
                    swept.append(collect_garbage(store, self, DAY).inputs)
            return there

    objects = SweptMeanwhile(tmp_path / "objects")
    services = services_on(store, settings, objects)
    image = make_image(64, 48, seed=5)
    first = services.submit("t", request_for(image))
    store.request_cancel(first.id, "t")  # ended: nothing live names its image now
    second = services.submit("t", request_for(image))
    assert swept == [1], "the sweep ran between the submit's check and its insert"
    assert objects.exists(input_key(digest_of(image))), "put back for the task that needs it"
    assert store.get_task(second.id).status is TaskStatus.QUEUED  # type: ignore[union-attr]


def test_a_submit_that_loses_every_race_is_a_503_and_inserts_nothing(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    """Each time the submit checks for its image, a sweep (two days later on its clock) deletes it."""

    class AlwaysSwept(LocalStore):
        def exists(self, key: str) -> bool:
            there = super().exists(key)
            with clock.moved(2 * DAY):
                collect_garbage(store, self, DAY)
            return there

    objects = AlwaysSwept(tmp_path / "objects")
    image = make_image(64, 48, seed=9)
    LocalStore(tmp_path / "objects").put_bytes(input_key(digest_of(image)), b"old copy")
    with pytest.raises(ServiceUnavailable, match="please retry"):
        services_on(store, settings, objects).submit("t", request_for(image))
    assert store.list_tasks("t") == []


def test_a_task_insert_refuses_inputs_that_are_gone(store: SqlTaskStore) -> None:
    from vidgate.tasks.model import TaskParams

    params = TaskParams(images=["sha256:" + "a" * 64], prompt="x", duration=1, resolution="540p",
                        movement_amplitude="auto", seed=1)  # fmt: skip
    with pytest.raises(InputsGone):
        store.create_task("t", params, max_attempts=3, stored_inputs=["a" * 64])
    assert store.list_tasks("t") == [], "nothing inserted"
    store.retention.register_input("a" * 64, 10)
    task, created = store.create_task("t", params, max_attempts=3, stored_inputs=["a" * 64])
    assert created and task.status is TaskStatus.QUEUED


def test_concurrent_submits_of_one_image_never_lose_it_to_the_sweeper(
    store: SqlTaskStore, settings: Settings, tmp_path: Path
) -> None:
    """Threads submit the same image and end their tasks while a sweeper with a 20 ms retention
    deletes the image whenever no live task names it: every task sees its input while it is live."""
    objects = LocalStore(tmp_path / "objects")
    services = services_on(store, settings, objects)
    image = make_image(64, 48, seed=7)
    request, key = request_for(image), input_key(digest_of(image))
    stop, deleted, lost, busy = threading.Event(), [], [], []
    quiet = threading.Barrier(4)

    def sweep() -> None:
        while not stop.is_set():
            deleted.append(collect_garbage(store, objects, 0.02).inputs)

    def submit(thread: int) -> None:
        for round_ in range(8):
            try:
                task = services.submit("t", request)
            except ServiceUnavailable:  # lost the race STORE_TRIES times in a row: a 503, not a loss
                busy.append(thread)
            else:
                for pause in (0, 0.005 * ((thread + round_) % 3)):
                    time.sleep(pause)
                    if not objects.exists(key):
                        lost.append(task.id)
                store.request_cancel(task.id, "t")
            if round_ % 2:  # all quiet together, long enough for the sweeper to take the image
                quiet.wait()
                time.sleep(0.06)

    sweeper = threading.Thread(target=sweep)
    sweeper.start()
    submitters = [threading.Thread(target=submit, args=(n,)) for n in range(4)]
    for thread in submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    stop.set()
    sweeper.join()
    assert lost == []
    assert sum(deleted) >= 2, "the sweeper deleted the image between submits (the race was run)"
    assert len(busy) <= 4
