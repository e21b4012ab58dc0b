"""Engine routing in the store, on SQLite and PostgreSQL alike: workers claim only their engines'
tasks, an engine's cap bounds its running tasks, and a queued task waits only behind its engine's."""

from __future__ import annotations

import threading

from vidgate import clock
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import TaskParams, TaskStatus

PARAMS = TaskParams(
    images=["sha256:" + "0" * 64],
    prompt="x",
    duration=1,
    resolution="540p",
    movement_amplitude="auto",
    seed=1,
)


def submit(store: SqlTaskStore, engine: str, estimate_ms: int = 1000) -> str:
    task, _ = store.create_task("team", PARAMS, max_attempts=3, engine=engine, estimate_ms=estimate_ms)
    return task.id


def test_two_workers_with_disjoint_engines_each_take_only_their_own(store: SqlTaskStore) -> None:
    motion = {submit(store, "motion") for _ in range(3)}
    vidu = {submit(store, "vidu") for _ in range(3)}
    taken: dict[str, list[str]] = {"motion": [], "vidu": []}

    def work(engine: str) -> None:
        while (task := store.claim(f"{engine}-worker", 30, engines=[engine])) is not None:
            taken[engine].append(task.id)
            assert task.engine == engine

    threads = [threading.Thread(target=work, args=(engine,)) for engine in ("motion", "vidu")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(taken["motion"]) == motion and set(taken["vidu"]) == vidu


def test_a_worker_of_several_engines_takes_them_in_queue_order(store: SqlTaskStore) -> None:
    first = submit(store, "vidu")
    second = submit(store, "motion")
    both = ["motion", "vidu"]
    assert [store.claim("w", 30, engines=both).id, store.claim("w", 30, engines=both).id] == [first, second]  # type: ignore[union-attr]


def test_an_engines_cap_bounds_its_running_tasks_across_workers(store: SqlTaskStore) -> None:
    for _ in range(4):
        submit(store, "vidu")
    motion = submit(store, "motion")
    claims = [store.claim(f"w{i}", 30, engines=["vidu", "motion"], caps={"vidu": 2}) for i in range(4)]
    engines = [task.engine if task else None for task in claims]
    assert engines == ["vidu", "vidu", "motion", None], "the third and fourth vidu tasks wait in the queue"
    assert claims[2] is not None and claims[2].id == motion
    first = claims[0]
    assert first is not None and store.complete(first.id, first.attempt, "videos/x.mp4", {})
    after = store.claim("w5", 30, engines=["vidu"], caps={"vidu": 2})
    assert after is not None and after.engine == "vidu", "a slot freed is taken"


def test_an_expired_lease_frees_its_slot_under_a_cap(store: SqlTaskStore) -> None:
    submit(store, "vidu")
    waiting = submit(store, "vidu")
    assert store.claim("dead", 0.5, engines=["vidu"], caps={"vidu": 1}) is not None
    assert store.claim("w", 30, engines=["vidu"], caps={"vidu": 1}) is None
    with clock.moved(1):
        retaken = store.claim("w", 30, engines=["vidu"], caps={"vidu": 1})
    assert retaken is not None and retaken.id != waiting, "the expired task itself is taken up first"


def test_a_queued_tasks_work_ahead_counts_only_its_own_engine(store: SqlTaskStore) -> None:
    submit(store, "motion", estimate_ms=10_000)
    submit(store, "vidu", estimate_ms=3_000)
    later_vidu = submit(store, "vidu", estimate_ms=5_000)
    running = store.claim("w", 30, engines=["motion"])
    assert running is not None and store.set_progress(running.id, running.attempt, 50, eta=7)
    queued = [task for task in store.list_tasks("team") if task.status is TaskStatus.QUEUED]
    ahead = store.work_ahead(queued)
    assert ahead[later_vidu].estimate_ms == 3_000 and ahead[later_vidu].busy_workers == 0
    assert {task.engine for task in queued} == {"vidu"}


def test_tasks_submitted_in_the_same_millisecond_still_queue_one_behind_the_other(
    store: SqlTaskStore,
) -> None:
    with clock.frozen(clock.now()):
        first, second = submit(store, "vidu", 3_000), submit(store, "vidu", 5_000)
    queued = [task for task in store.list_tasks("team") if task.status is TaskStatus.QUEUED]
    ahead = store.work_ahead(queued)
    assert (ahead[first].estimate_ms, ahead[second].estimate_ms) == (0, 3_000), "first come, first served"
    claimed = store.claim("w", 30, engines=["vidu"])
    assert claimed is not None and claimed.id == first, "the claim takes the one submitted first"
