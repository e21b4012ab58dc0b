"""The usage ledger in the store, on SQLite and PostgreSQL: each task counts once, at submit and at
its end, however many attempts it took and however many processes race to end it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from vidgate.clock import FrozenClock, frozen
from vidgate.errors import CANCELED, RateLimitExceeded
from vidgate.store.db import MIGRATIONS_DIR, migrate, open_engine
from vidgate.store.sql import SqlTaskStore
from vidgate.store.usage import UsageFigures
from vidgate.tasks.limits import KeyLimits
from vidgate.tasks.model import TaskParams

PARAMS = TaskParams(
    images=["sha256:" + "0" * 64],
    prompt="x",
    duration=5,
    resolution="540p",
    movement_amplitude="auto",
    seed=1,
)
DAY = date(2030, 1, 1)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with frozen(datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()) as fake:
        yield fake


def figures(store: SqlTaskStore, **narrow: str) -> UsageFigures:
    rows = store.usage.report(since=DAY, until=date(2030, 1, 3), group_by=(), **narrow)
    return rows[0].figures if rows else UsageFigures()


def test_a_retried_task_counts_once_with_its_render_time(store: SqlTaskStore, clock: FrozenClock) -> None:
    task, _ = store.create_task("t", PARAMS, max_attempts=3)
    first = store.claim("w1", 10)
    assert first is not None
    clock.advance(11)  # the first worker died: its lease expired
    second = store.claim("w2", 10)
    assert second is not None and second.attempt == 2
    clock.advance(4)
    assert store.complete(task.id, 2, "videos/x-2.mp4", {})
    assert not store.complete(task.id, 1, "videos/x-1.mp4", {}), "the zombie's publish is fenced"
    assert not store.fail(task.id, 1, "RENDER_FAILED: late"), "and so is its failure"
    assert figures(store) == UsageFigures(submitted=1, succeeded=1, video_seconds=5.0, render_seconds=15.0)


def test_every_way_a_task_ends_is_counted_once(store: SqlTaskStore, clock: FrozenClock) -> None:
    failed, _ = store.create_task("t", PARAMS, max_attempts=1)
    queued_cancel, _ = store.create_task("t", PARAMS, max_attempts=1)
    running_cancel, _ = store.create_task("t", PARAMS, max_attempts=1)
    swept, _ = store.create_task("t", PARAMS, max_attempts=1)
    claimed = store.claim("w", 10)
    assert claimed is not None and claimed.id == failed.id
    assert store.fail(failed.id, 1, "RENDER_FAILED: boom")
    store.request_cancel(queued_cancel.id, "t")
    store.request_cancel(queued_cancel.id, "t")  # asked twice, ended once
    running = store.claim("w", 10)
    assert running is not None and running.id == running_cancel.id
    store.request_cancel(running_cancel.id, "t")
    assert store.release(running_cancel.id, 1)  # a cancelled task given back ends CANCELED
    assert store.claim("w", 10) is not None  # `swept`: its worker dies on its last attempt
    clock.advance(11)
    assert [task_id for task_id, _ in store.sweeper.sweep()] == [swept.id]
    assert store.sweeper.sweep() == []
    totals = figures(store)
    assert (totals.submitted, totals.succeeded, totals.failed, totals.cancelled) == (4, 0, 2, 2)
    assert store.get_task(running_cancel.id).reason == CANCELED  # type: ignore[union-attr]


def test_racing_writers_end_a_task_once(store: SqlTaskStore, database_url: str, clock: FrozenClock) -> None:
    """A worker's publish, a cancel and the sweeper race on one task from two engines (as two processes
    would): whoever wins, the ledger has one end."""
    other = SqlTaskStore(open_engine(database_url))
    for _ in range(5):
        task, _ = store.create_task("t", PARAMS, max_attempts=1)
        claimed = store.claim("w", 10)
        assert claimed is not None
        writers = [
            threading.Thread(target=store.complete, args=(task.id, 1, f"videos/{task.id}-1.mp4", {})),
            threading.Thread(target=other.fail, args=(task.id, 1, "RENDER_FAILED: x")),
            threading.Thread(target=other.request_cancel, args=(task.id, "t")),
        ]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        store.release(task.id, 1)
    other.engine.dispose()
    totals = figures(store)
    assert totals.submitted == 5 and totals.succeeded + totals.failed + totals.cancelled == 5


def test_figures_are_kept_per_tenant_key_engine_and_day(store: SqlTaskStore, clock: FrozenClock) -> None:
    key, _ = store.keys.create("ci", "team-a", KeyLimits())
    store.create_task("team-a", PARAMS, max_attempts=1, key=key, engine="motion")
    store.create_task("team-a", PARAMS, max_attempts=1, key=key, engine="vidu")
    clock.advance(86400)
    store.create_task("team-a", PARAMS, max_attempts=1, key=key)
    store.create_task("team-b", PARAMS, max_attempts=1)
    rows = store.usage.report(
        since=DAY, until=date(2030, 1, 2), group_by=("day", "engine"), tenant_id="team-a"
    )
    assert [(row.group, row.figures.submitted) for row in rows] == [
        ({"day": "2030-01-01", "engine": "motion"}, 1),
        ({"day": "2030-01-01", "engine": "vidu"}, 1),
        ({"day": "2030-01-02", "engine": "motion"}, 1),
    ]
    assert figures(store, key_id=key.id).submitted == 3
    assert figures(store, tenant_id="team-b").submitted == 1
    assert store.usage.totals_by_engine()["motion"].submitted == 3
    only_day_one = store.usage.report(since=DAY, until=DAY, group_by=("key",))
    assert [(row.group, row.figures.submitted) for row in only_day_one] == [({"key": key.id}, 2)]


def test_the_daily_quota_reads_the_ledger(store: SqlTaskStore, clock: FrozenClock) -> None:
    """The quota counts what the ledger says was submitted today, not the task rows."""
    key, _ = store.keys.create("k", "t", KeyLimits(daily=3))
    store.create_task("t", PARAMS, max_attempts=1, key=key)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE usage SET submitted = 3"))
    with pytest.raises(RateLimitExceeded, match="per day"):
        store.create_task("t", PARAMS, max_attempts=1, key=key)


def test_the_ledger_migration_counts_the_tasks_already_there(tmp_path: Path) -> None:
    """After the upgrade the ledger (and so a key's daily quota) already counts earlier tasks."""
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    day_ms = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        connection.execute(
            text(
                "INSERT INTO tasks (id, tenant_id, key_id, status, reason, params, max_attempts, created_ms,"
                " started_ms, completed_ms) VALUES"
                " ('a', 't', 'k', 'SUCCEED', '', :params, 3, :day, :day, :day + 4000),"
                " ('b', 't', 'k', 'FAILED', 'CANCELED', :params, 3, :day, NULL, :next_day),"
                " ('c', 't', NULL, 'FAILED', 'RENDER_FAILED: x', :params, 3, :day, :day, :day + 1000),"
                " ('d', 't', 'k', 'QUEUED', '', :params, 3, :next_day, NULL, NULL)"
            ),
            {"params": PARAMS.to_json(), "day": day_ms, "next_day": day_ms + 86_400_000},
        )
    migrate(engine)
    store = SqlTaskStore(engine)
    first = store.usage.report(since=DAY, until=DAY, group_by=("key",))
    assert [(row.group["key"], row.figures) for row in first] == [
        ("", UsageFigures(submitted=1, failed=1, render_seconds=1.0)),
        ("k", UsageFigures(submitted=2, succeeded=1, video_seconds=5.0, render_seconds=4.0)),
    ]
    (second,) = store.usage.report(since=date(2030, 1, 2), until=date(2030, 1, 2), group_by=())
    assert second.figures == UsageFigures(submitted=1, cancelled=1)
    engine.dispose()
