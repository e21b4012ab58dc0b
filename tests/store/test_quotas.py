"""Per-key limits in the store, on SQLite and PostgreSQL alike: exact under concurrent submits from
several engines (as several API processes would be), refilled by time, reset by the UTC day."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from vidgate.clock import FrozenClock, frozen
from vidgate.errors import RateLimitExceeded
from vidgate.store.db import open_engine
from vidgate.store.sql import SqlTaskStore
from vidgate.store.tables import api_keys
from vidgate.tasks.limits import KeyLimits, parse_count, parse_rate
from vidgate.tasks.model import ApiKey, TaskParams

PARAMS = TaskParams(
    images=["sha256:" + "0" * 64],
    prompt="x",
    duration=1,
    resolution="540p",
    movement_amplitude="auto",
    seed=1,
)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    with frozen(datetime(2030, 1, 1, 23, 59, 0, tzinfo=UTC).timestamp()) as fake:
        yield fake


def submit(store: SqlTaskStore, key: ApiKey, **kwargs: object) -> RateLimitExceeded | None:
    try:
        store.create_task(key.tenant_id, PARAMS, max_attempts=3, key=key, **kwargs)  # type: ignore[arg-type]
    except RateLimitExceeded as exc:
        return exc
    return None


def test_keys_keep_their_limits_and_tasks_their_key(store: SqlTaskStore) -> None:
    limits = KeyLimits(rate=60, rate_period_s=60, concurrency=4, daily=500)
    key, secret = store.keys.create("ci", "team-a", limits)
    authenticated = store.keys.authenticate(secret)
    assert authenticated is not None and authenticated.limits == limits == key.limits
    assert store.keys.list()[0].limits == limits
    task, _ = store.create_task("team-a", PARAMS, max_attempts=3, key=authenticated)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT key_id FROM tasks WHERE id = '{task.id}'").scalar() == key.id


def test_concurrency_is_exact_under_concurrent_submits_from_two_engines(
    store: SqlTaskStore, database_url: str
) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(concurrency=5))
    other_process = SqlTaskStore(open_engine(database_url))
    outcomes: list[RateLimitExceeded | None] = []
    lock = threading.Lock()

    def hammer(target: SqlTaskStore) -> None:
        for _ in range(3):
            outcome = submit(target, key)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in [store, other_process] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other_process.engine.dispose()
    assert outcomes.count(None) == 5 and len(outcomes) == 24
    refusals = [o for o in outcomes if o is not None]
    assert {r.metadata["quota"] for r in refusals} == {"concurrency"}
    assert all(r.retry_after >= 1 for r in refusals)
    assert len(store.list_tasks("t", limit=100)) == 5


def test_finished_tasks_free_their_slot(store: SqlTaskStore) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(concurrency=1))
    assert submit(store, key) is None
    assert submit(store, key) is not None
    task = store.claim("w", 30)
    assert task is not None and submit(store, key) is not None, "processing still counts"
    store.complete(task.id, task.attempt, "videos/x.mp4", {})
    assert submit(store, key) is None


def test_the_token_bucket_refills_evenly(store: SqlTaskStore, clock: FrozenClock) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(rate=2, rate_period_s=60))
    assert submit(store, key) is None and submit(store, key) is None, "a full bucket allows a burst"
    refused = submit(store, key)
    assert refused is not None and refused.metadata["quota"] == "rate" and refused.retry_after == 30
    clock.advance(29)
    assert submit(store, key) is not None
    clock.advance(1)
    assert submit(store, key) is None, "one token every 30 s"
    clock.advance(3600)
    assert [submit(store, key) for _ in range(3)][:2] == [None, None], "never more than the bucket holds"


def test_a_refused_submit_keeps_its_token(store: SqlTaskStore, clock: FrozenClock) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(rate=10, rate_period_s=60, concurrency=1))
    assert submit(store, key) is None
    assert submit(store, key) is not None  # concurrency: rolled back, token and all
    with store.engine.connect() as conn:
        tokens = conn.execute(select(api_keys.c.rate_tokens).where(api_keys.c.id == key.id)).scalar_one()
    assert tokens == pytest.approx(9)


def test_the_daily_quota_resets_at_utc_midnight(store: SqlTaskStore, clock: FrozenClock) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(daily=2))
    assert submit(store, key) is None and submit(store, key) is None
    refused = submit(store, key)
    assert refused is not None and refused.metadata["quota"] == "daily"
    assert refused.retry_after == 60 and "2030-01-02T00:00:00+00:00" in refused.message
    clock.advance(60)
    assert submit(store, key) is None


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        (KeyLimits(concurrency=1), "may have 1 task queued or processing at once"),
        (KeyLimits(concurrency=2), "may have 2 tasks queued or processing at once"),
        (KeyLimits(daily=1), "may submit 1 task per day (UTC)"),
        (KeyLimits(daily=2), "may submit 2 tasks per day (UTC)"),
        (KeyLimits(rate=1, rate_period_s=60), "may submit 1 task per 60 s"),
        (KeyLimits(rate=2, rate_period_s=60), "may submit 2 tasks per 60 s"),
    ],
)
def test_refusals_count_tasks_in_good_english(store: SqlTaskStore, limits: KeyLimits, says: str) -> None:
    key, _ = store.keys.create("k", "t", limits)
    outcomes = [submit(store, key) for _ in range(3)]
    refused = next(o for o in outcomes if o is not None)
    assert f"This key {says}" in refused.message, refused.message


def test_an_idempotent_replay_costs_no_quota(store: SqlTaskStore) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(rate=1, rate_period_s=3600))
    assert submit(store, key, idempotency_key="same", request_hash="h") is None
    assert submit(store, key, idempotency_key="same", request_hash="h") is None
    assert submit(store, key, idempotency_key="other", request_hash="h") is not None


def test_keys_without_limits_are_never_refused(store: SqlTaskStore) -> None:
    key, _ = store.keys.create("k", "t")
    assert not key.limits.any and all(submit(store, key) is None for _ in range(20))


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("60/min", (60, 60)), ("1/s", (1, 1)), ("500 / day", (500, 86400)), ("unlimited", (None, 60))],
)
def test_rates_parse(text: str, parsed: tuple[int | None, int]) -> None:
    assert parse_rate(text) == parsed


@pytest.mark.parametrize("text", ["60", "0/min", "-1/min", "60/fortnight", "lots"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_counts_parse() -> None:
    assert parse_count("4", "concurrency") == 4
    assert parse_count("0", "daily") is None and parse_count("unlimited", "daily") is None
    with pytest.raises(ValueError, match="daily"):
        parse_count("-3", "daily")


def test_the_look_ahead_check_takes_nothing(store: SqlTaskStore) -> None:
    key, _ = store.keys.create("k", "t", KeyLimits(rate=1, rate_period_s=3600, concurrency=5))
    for _ in range(3):
        store.check_quota(key)  # looks only: the one token is still there afterwards
    assert submit(store, key) is None
    with pytest.raises(RateLimitExceeded):
        store.check_quota(key)
