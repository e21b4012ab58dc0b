"""The sweeper: ends the tasks no worker will finish.

A part of the task store (`store.sweeper`). Workers run the sweep (worker/runner.py); tasks with
attempts left need none, since `claim` takes expired leases directly.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, or_, update

from vidgate.clock import now
from vidgate.errors import CANCELED, MAX_ATTEMPTS_EXCEEDED
from vidgate.store.database import Database
from vidgate.store.tables import tasks
from vidgate.store.usage import ENDED_COLUMNS, add_ended
from vidgate.tasks.model import TaskStatus
from vidgate.tasks.offpeak import OFF_PEAK_EXPIRED


class Sweeper:
    def __init__(self, db: Database) -> None:
        self.db = db

    def sweep(self, off_peak_deadline_s: float | None = None) -> list[tuple[str, int]]:
        """Fail tasks whose last allowed attempt lost its lease (the worker died), and off-peak tasks
        not started (or abandoned) by their deadline; returns (task id, attempt) of each, so the
        caller can remove what those attempts left behind."""
        at = now()
        ended: list[tuple[str, int]] = []
        if off_peak_deadline_s is not None:
            # A render in progress past the deadline is let finish: finished work is not thrown away.
            ended = self._fail_unattended(
                at,
                OFF_PEAK_EXPIRED,
                tasks.c.priority == 1,
                tasks.c.created_ms < int((at - off_peak_deadline_s) * 1000),
                or_(
                    tasks.c.status == TaskStatus.QUEUED.value,
                    and_(tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.lease_until < at),
                ),
            )
        return ended + self._fail_unattended(
            at,
            case((tasks.c.cancel_requested.is_(True), CANCELED), else_=MAX_ATTEMPTS_EXCEEDED),
            tasks.c.status == TaskStatus.PROCESSING.value,
            tasks.c.lease_until < at,
            or_(tasks.c.attempt >= tasks.c.max_attempts, tasks.c.cancel_requested.is_(True)),
        )

    def _fail_unattended(
        self, at: float, reason: str | ColumnElement[str], *conditions: ColumnElement[bool]
    ) -> list[tuple[str, int]]:
        """Fail the tasks matching `conditions` with `reason` and no lease; (id, attempt) of each."""
        statement = (
            update(tasks)
            .where(*conditions)
            .values(
                status=TaskStatus.FAILED.value,
                reason=reason,
                eta=0,
                lease_owner=None,
                lease_until=None,
                completed_ms=int(at * 1000),
            )
            .returning(tasks.c.id, tasks.c.attempt, *ENDED_COLUMNS)
        )
        with self.db.write_transaction() as conn:
            ended = conn.execute(statement).all()
            for row in ended:
                add_ended(conn, row)  # in the same transaction: each task counts once
        return [(row.id, row.attempt) for row in ended]
