"""The task store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from vidgate import clock
from vidgate.engines import cpu_estimate_ms
from vidgate.errors import IdempotencyKeyReused
from vidgate.store.db import MIGRATIONS_DIR, migrate, open_engine
from vidgate.store.keys import Revocation
from vidgate.store.sql import IDEMPOTENCY_WINDOW_MS, SqlTaskStore
from vidgate.store.tables import metadata
from vidgate.tasks.model import TaskParams, TaskStatus


def params(**overrides: object) -> TaskParams:
    values: dict[str, object] = {
        "images": ["sha256:" + "0" * 64],
        "prompt": "zoom in",
        "duration": 1,
        "resolution": "540p",
        "movement_amplitude": "auto",
        "seed": 7,
    }
    return TaskParams(**(values | overrides))  # type: ignore[arg-type]


def test_migrated_schema_matches_the_tables(store: SqlTaskStore) -> None:
    inspector = inspect(store.engine)
    for table in metadata.sorted_tables:
        migrated = {c["name"] for c in inspector.get_columns(table.name)}
        assert migrated == set(table.columns.keys()), table.name
        declared_indexes = {i.name for i in table.indexes}
        assert declared_indexes <= {i["name"] for i in inspector.get_indexes(table.name)}


def test_create_and_get_is_scoped_to_the_tenant(store: SqlTaskStore) -> None:
    task, created = store.create_task("alice", params(), max_attempts=3)
    assert created and task.status is TaskStatus.QUEUED and task.attempt == 0
    assert store.get_task(task.id, "alice") == task
    assert store.get_task(task.id, "bob") is None
    assert store.get_task("no-such-task") is None


def test_idempotency_key_returns_the_same_task_or_refuses_another_body(store: SqlTaskStore) -> None:
    first, created = store.create_task(
        "alice", params(), max_attempts=3, idempotency_key="k", request_hash="h1"
    )
    again, created_again = store.create_task(
        "alice", params(), max_attempts=3, idempotency_key="k", request_hash="h1"
    )
    assert created and not created_again and again.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        store.create_task("alice", params(), max_attempts=3, idempotency_key="k", request_hash="h2")
    other_tenant, created_other = store.create_task(
        "bob", params(), max_attempts=3, idempotency_key="k", request_hash="h1"
    )
    assert created_other and other_tenant.id != first.id


def test_claim_takes_oldest_normal_task_before_off_peak(store: SqlTaskStore) -> None:
    off_peak, _ = store.create_task("alice", params(off_peak=True), max_attempts=3)
    time.sleep(0.002)
    normal, _ = store.create_task("alice", params(), max_attempts=3)
    first = store.claim("w1", 30)
    assert first is not None and first.id == normal.id
    assert first.status is TaskStatus.PROCESSING and first.attempt == 1 and first.lease_owner == "w1"
    second = store.claim("w1", 30)
    assert second is not None and second.id == off_peak.id
    assert store.claim("w1", 30) is None


def test_concurrent_claims_never_hand_out_a_task_twice(store: SqlTaskStore) -> None:
    ids = {store.create_task("alice", params(), max_attempts=3)[0].id for _ in range(20)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (task := store.claim(name, 30)) is not None:
            with lock:
                claimed.append(task.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_writes_are_fenced_by_attempt(store: SqlTaskStore) -> None:
    store.create_task("alice", params(), max_attempts=3)
    first = store.claim("w1", 0.05)
    assert first is not None
    time.sleep(0.1)  # w1's lease expires; w2 claims again
    second = store.claim("w2", 30)
    assert second is not None and second.id == first.id and second.attempt == 2
    assert not store.set_progress(first.id, 1, 50, 3)
    assert not store.renew_lease(first.id, 1, 30).owned
    assert not store.complete(first.id, 1, "videos/zombie.mp4", {})
    assert store.complete(second.id, 2, "videos/ok.mp4", {"engine": "motion"})
    done = store.get_task(first.id)
    assert done is not None and done.status is TaskStatus.SUCCEED and done.output_key == "videos/ok.mp4"
    assert not store.fail(first.id, 2, "late"), "a finished task takes no more writes"


def test_progress_is_monotonic(store: SqlTaskStore) -> None:
    store.create_task("alice", params(), max_attempts=3)
    task = store.claim("w1", 30)
    assert task is not None
    store.set_progress(task.id, 1, 60, 4)
    store.set_progress(task.id, 1, 30, 2)
    current = store.get_task(task.id)
    assert current is not None and current.progress == 60 and current.eta == 2


def test_expired_last_attempt_is_failed_by_the_sweeper(store: SqlTaskStore) -> None:
    created, _ = store.create_task("alice", params(), max_attempts=1)
    assert store.claim("w1", 0.05) is not None
    time.sleep(0.1)
    assert store.claim("w2", 30) is None, "no attempts left"
    assert store.sweeper.sweep() == [(created.id, 1)], "the attempt that was lost, for its files"
    task = store.get_task(created.id)
    assert task is not None and task.status is TaskStatus.FAILED and task.reason == "MAX_ATTEMPTS_EXCEEDED"


def test_release_requeues_for_another_attempt(store: SqlTaskStore) -> None:
    created, _ = store.create_task("alice", params(), max_attempts=2)
    first = store.claim("w1", 30)
    assert first is not None and store.release(first.id, 1)
    again = store.claim("w2", 30)
    assert again is not None and again.id == created.id and again.attempt == 2


def test_cancel_ends_a_queued_task_and_flags_a_running_one(store: SqlTaskStore) -> None:
    queued, _ = store.create_task("alice", params(), max_attempts=3)
    cancelled = store.request_cancel(queued.id, "alice")
    assert cancelled is not None and cancelled.status is TaskStatus.FAILED and cancelled.reason == "CANCELED"
    running, _ = store.create_task("alice", params(), max_attempts=3)
    claimed = store.claim("w1", 30)
    assert claimed is not None and claimed.id == running.id
    assert store.request_cancel(running.id, "bob") is None, "another tenant cannot cancel it"
    flagged = store.request_cancel(running.id, "alice")
    assert flagged is not None and flagged.status is TaskStatus.PROCESSING and flagged.cancel_requested
    assert store.renew_lease(running.id, 1, 30).cancel_requested


def test_release_of_a_cancelled_task_ends_it_instead_of_requeueing(store: SqlTaskStore) -> None:
    created, _ = store.create_task("alice", params(), max_attempts=3)
    task = store.claim("w1", 30)
    assert task is not None and store.request_cancel(created.id, "alice") is not None
    assert store.release(task.id, 1)
    ended = store.get_task(created.id)
    assert ended is not None and ended.status is TaskStatus.FAILED and ended.reason == "CANCELED"
    assert ended.completed_ms is not None


def test_idempotency_keys_expire_after_24_hours(store: SqlTaskStore) -> None:
    old, _ = store.create_task("alice", params(), max_attempts=3, idempotency_key="k", request_hash="h1")
    with clock.moved(IDEMPOTENCY_WINDOW_MS / 1000 + 1):
        new, created = store.create_task(
            "alice", params(), max_attempts=3, idempotency_key="k", request_hash="h2"
        )
    assert created and new.id != old.id


def test_revoke_refuses_an_ambiguous_prefix(store: SqlTaskStore) -> None:
    from sqlalchemy import update

    from vidgate.store.tables import api_keys

    store.keys.create("a")
    second, second_secret = store.keys.create("b")
    with store.engine.begin() as conn:
        conn.execute(update(api_keys).values(prefix="vg_same"))
    assert store.keys.revoke("vg_same") is Revocation.AMBIGUOUS, "two keys match: revoke neither"
    assert store.keys.revoke("vg_") is Revocation.AMBIGUOUS
    assert store.keys.authenticate(second_secret) is not None
    assert store.keys.revoke(second.id) is Revocation.REVOKED
    assert store.keys.revoke("vg_same") is Revocation.REVOKED, "only the other key is still active"


def test_revoke_takes_the_start_of_a_prefix_case_sensitively(store: SqlTaskStore) -> None:
    from sqlalchemy import update

    from vidgate.store.tables import api_keys

    _record, secret = store.keys.create("ci")
    with store.engine.begin() as conn:
        conn.execute(update(api_keys).values(prefix="vg_cM_5wij"))
    assert store.keys.revoke("vg_cm") is Revocation.NO_MATCH, "prefixes are case-sensitive base64"
    assert store.keys.revoke("vg%") is Revocation.NO_MATCH, "no LIKE wildcards"
    assert store.keys.revoke("vg_cM_5wijX") is Revocation.NO_MATCH, "longer than the prefix"
    assert store.keys.revoke("") is Revocation.NO_MATCH, "the empty string names no key"
    assert store.keys.authenticate(secret) is not None
    assert store.keys.revoke("vg_cM") is Revocation.REVOKED
    assert store.keys.authenticate(secret) is None


def test_set_params_records_fetched_inputs(store: SqlTaskStore) -> None:
    store.create_task("alice", params(images=["http://example.test/a.png"]), max_attempts=3)
    task = store.claim("w1", 30)
    assert task is not None
    stored = params(images=["sha256:" + "1" * 64])
    assert store.set_params(task.id, 1, stored)
    current = store.get_task(task.id)
    assert current is not None and current.params == stored


def test_list_is_newest_first_with_a_stable_cursor(store: SqlTaskStore) -> None:
    ids = [store.create_task("alice", params(), max_attempts=3)[0].id for _ in range(5)]
    store.create_task("bob", params(), max_attempts=3)
    page1 = store.list_tasks("alice", limit=3)
    page2 = store.list_tasks("alice", limit=3, after=(page1[-1].created_ms, page1[-1].id))
    listed = [t.id for t in [*page1, *page2]]
    assert sorted(listed) == sorted(ids) and len(set(listed)) == 5
    assert [t.created_ms for t in [*page1, *page2]] == sorted(
        (t.created_ms for t in [*page1, *page2]), reverse=True
    )
    assert store.list_tasks("alice", status=TaskStatus.SUCCEED) == []


def test_keys_are_stored_hashed_and_revocable(store: SqlTaskStore) -> None:
    record, secret = store.keys.create("ci", "team-a")
    assert secret.startswith("vg_") and len(secret) > 40
    assert store.keys.authenticate(secret) == record and record.tenant_id == "team-a"
    assert store.keys.authenticate(secret + "x") is None
    assert all(secret not in repr(k) for k in store.keys.list())
    assert store.keys.revoke(record.prefix) is Revocation.REVOKED
    assert store.keys.authenticate(secret) is None
    assert store.keys.revoke(record.id) is Revocation.NO_MATCH, "already revoked"


def test_off_peak_tasks_share_the_queue_inside_their_window(store: SqlTaskStore) -> None:
    off_peak, _ = store.create_task("alice", params(off_peak=True), max_attempts=3)
    time.sleep(0.002)
    store.create_task("alice", params(), max_attempts=3)
    first = store.claim("w1", 30, off_peak_window_open=True)
    assert first is not None and first.id == off_peak.id, "inside the window: first come, first served"


def test_off_peak_tasks_past_their_deadline_expire(store: SqlTaskStore) -> None:
    stale, _ = store.create_task("alice", params(off_peak=True), max_attempts=3)
    normal, _ = store.create_task("alice", params(), max_attempts=3)
    time.sleep(0.05)
    deadline_s = 0.01
    claimed = store.claim("w1", 30, off_peak_deadline_s=deadline_s)
    assert claimed is not None and claimed.id == normal.id
    assert store.claim("w1", 30, off_peak_deadline_s=deadline_s) is None, (
        "an expired off-peak task is not run"
    )
    assert store.sweeper.sweep(off_peak_deadline_s=deadline_s) == [(stale.id, 0)]
    expired = store.get_task(stale.id)
    assert (
        expired is not None and expired.status is TaskStatus.FAILED and expired.reason == "OFF_PEAK_EXPIRED"
    )
    running = store.get_task(normal.id)
    assert running is not None and running.status is TaskStatus.PROCESSING, "normal tasks have no deadline"


def test_the_render_estimates_migration_fills_in_the_queued_tasks(tmp_path: Path) -> None:
    """Tasks queued before the upgrade get their estimate, so their ETAs add up from the first poll."""
    queued = params(duration=2, resolution="1080p")
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        connection.execute(
            text(
                "INSERT INTO tasks (id, tenant_id, status, params, max_attempts, created_ms) "
                "VALUES ('t1', 'team', 'QUEUED', :params, 3, 1), ('t2', 'team', 'SUCCEED', :params, 3, 1)"
            ),
            {"params": queued.to_json()},
        )
    migrate(engine)
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, estimate_ms FROM tasks")).all())
    assert rows == {"t1": cpu_estimate_ms(queued), "t2": 0}
    assert cpu_estimate_ms(queued) == 2 * 24 * 45  # 2 s at 1080p: ~45 ms a frame
    engine.dispose()
