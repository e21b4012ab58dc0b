"""Retention in the database: which stored inputs and videos have outlived `VIDGATE_RETENTION`, and
deleting each exactly once, never one a submit is about to use.

A part of the task store (`store.retention`). Inputs are shared by content hash, so an input's row
(`inputs`) carries when a submit last used it. The protocol, in full in docs/operations.md:

- a submit first *registers* each stored input (an upsert renewing `last_used_ms`, committed), then
  puts the object when it is missing, then inserts its task in a transaction that renews the rows
  again and checks that all of them are still there (`keep`); a row gone means the sweeper took the
  input in between, and the submit registers and puts it again;
- the sweeper deletes a row with a compare-and-set (still unused since the cutoff, and no queued or
  processing task names it) and deletes the object *inside that same transaction*: when a register
  returns, any deletion that began before it has finished (its row lock, or SQLite's write lock,
  made the register wait), and none can begin after it until the retention period passes again.

A video belongs to one task: the sweeper marks the task expired (compare-and-set on `expired_ms`)
and deletes the object inside that transaction, so a failed delete leaves the task as it was, for the
next pass to try again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Exists, and_, delete, exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vidgate.clock import now_ms
from vidgate.store.database import Database
from vidgate.store.tables import inputs, tasks
from vidgate.tasks.model import TaskStatus

ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.PROCESSING.value)
BATCH = 200  # candidates looked at per pass; the next sweep takes the rest
# Tries to store an input and insert the task naming it when retention deletes it in between each
# time (it takes a retention far shorter than a submit to lose even one such race).
STORE_TRIES = 3


class InputsGone(Exception):
    """A task's stored input was deleted by retention between its register and the task's insert:
    register and put it again, then insert again."""


@dataclass(frozen=True)
class Expired:
    """An object past retention: an input (`digest`) or a task's video (`task_id`)."""

    key: str | None  # a video's key in the store (an input's follows from its digest)
    size_bytes: int | None  # None: not known without asking the store
    digest: str | None = None
    task_id: str | None = None


class RetentionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def register_input(self, digest: str, size_bytes: int) -> None:
        """Mark an input used now (a row made if there is none); see the protocol above."""
        insert_ = postgres_insert if self.db.is_postgres else sqlite_insert
        at = now_ms()
        statement = insert_(inputs).values(digest=digest, size_bytes=size_bytes, last_used_ms=at)
        statement = statement.on_conflict_do_update(
            index_elements=[inputs.c.digest], set_={"last_used_ms": at, "size_bytes": size_bytes}
        )
        with self.db.write_transaction() as conn:
            conn.execute(statement)

    @staticmethod
    def keep(conn: Connection, digests: Sequence[str]) -> bool:
        """In a task's insert transaction: renew its inputs' rows (taking their locks); False when one
        is gone (the caller registers and puts it again, then retries)."""
        wanted = set(digests)
        if not wanted:
            return True
        renewed = conn.execute(
            update(inputs).where(inputs.c.digest.in_(wanted)).values(last_used_ms=now_ms())
        ).rowcount
        return renewed == len(wanted)

    def expired_inputs(self, cutoff_ms: int, limit: int | None = BATCH) -> list[Expired]:
        query = (
            select(inputs.c.digest, inputs.c.size_bytes)
            .where(inputs.c.last_used_ms < cutoff_ms, ~_named_by_a_live_task())
            .order_by(inputs.c.last_used_ms)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [Expired(None, row.size_bytes, digest=row.digest) for row in conn.execute(query)]

    def delete_input(self, digest: str, cutoff_ms: int, delete_object: Callable[[], None]) -> bool:
        """Delete the input's row if it is still expired and no live task names it, and its object
        with it (`delete_object` runs inside the transaction: if it raises, the row stays)."""
        statement = delete(inputs).where(
            inputs.c.digest == digest, inputs.c.last_used_ms < cutoff_ms, ~_named_by_a_live_task()
        )
        with self.db.write_transaction() as conn:
            if conn.execute(statement).rowcount != 1:
                return False
            delete_object()
        return True

    def expired_videos(self, cutoff_ms: int, limit: int | None = BATCH) -> list[Expired]:
        query = (
            select(tasks.c.id, tasks.c.output_key)
            .where(*_video_expired(cutoff_ms))
            .order_by(tasks.c.completed_ms)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [Expired(row.output_key, None, task_id=row.id) for row in conn.execute(query)]

    def expire_video(self, task_id: str, cutoff_ms: int, delete_object: Callable[[], None]) -> bool:
        """Mark the task's video expired and delete it, in one transaction (see `delete_input`)."""
        statement = (
            update(tasks).where(tasks.c.id == task_id, *_video_expired(cutoff_ms)).values(expired_ms=now_ms())
        )
        with self.db.write_transaction() as conn:
            if conn.execute(statement).rowcount != 1:
                return False
            delete_object()
        return True

    def is_expired_video(self, key: str) -> bool:
        """Whether `key` is the video of a task whose video retention deleted (a 410, not a 404)."""
        query = select(tasks.c.expired_ms).where(tasks.c.output_key == key, tasks.c.expired_ms.is_not(None))
        with self.db.read() as conn:
            return conn.execute(query.limit(1)).first() is not None


def _video_expired(cutoff_ms: int) -> tuple[ColumnElement[bool], ...]:
    return (
        tasks.c.status == TaskStatus.SUCCEED.value,
        tasks.c.output_key.is_not(None),
        tasks.c.expired_ms.is_(None),
        tasks.c.completed_ms < cutoff_ms,
    )


def _named_by_a_live_task() -> Exists:
    """A queued or processing task whose params name the input (`sha256:<digest>`): a task may wait in
    the queue longer than the retention period, and still needs its images when it runs."""
    reference = literal("%sha256:") + inputs.c.digest + literal("%")
    return exists().where(and_(tasks.c.status.in_(ACTIVE), tasks.c.params.like(reference)))
