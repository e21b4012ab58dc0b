"""The task store on SQLAlchemy Core: one class for SQLite and PostgreSQL.

The tasks table is the queue. A worker claims with one compare-and-set UPDATE (PostgreSQL adds
`FOR UPDATE SKIP LOCKED` so claimers never wait on each other), renews its lease by heartbeat, and every
write it makes afterwards is fenced by `attempt = :mine`: once a lease expired and another worker
claimed the task, the old worker's writes match no row and it learns it lost the task.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vidgate.clock import now, now_ms
from vidgate.errors import CANCELED, IdempotencyKeyReused
from vidgate.store.database import Database
from vidgate.store.keys import KeyRepository
from vidgate.store.outbox import WebhookOutbox
from vidgate.store.quotas import admit
from vidgate.store.sweep import Sweeper
from vidgate.store.tables import tasks
from vidgate.tasks.model import ApiKey, Task, TaskParams, TaskStatus

IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class WorkAhead:
    estimate_ms: int  # queued work picked first, plus what is left of the renders under way
    busy_workers: int  # workers rendering now: the work ahead is shared among at least these


@dataclass(frozen=True)
class LeaseState:
    owned: bool  # False: the lease was lost (expired and claimed again, or task ended)
    cancel_requested: bool


def _task(row: Any) -> Task:
    return Task(
        id=row.id,
        tenant_id=row.tenant_id,
        status=TaskStatus(row.status),
        reason=row.reason,
        params=TaskParams.from_json(row.params),
        progress=row.progress,
        eta=row.eta,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        output_key=row.output_key,
        result_info=json.loads(row.result_info),
        cancel_requested=bool(row.cancel_requested),
        created_ms=row.created_ms,
        started_ms=row.started_ms,
        completed_ms=row.completed_ms,
    )


class SqlTaskStore:
    """Tasks, and the parts that share their database: `keys`, `sweeper` and the `webhooks` outbox."""

    def __init__(self, engine: Engine) -> None:
        self.db = Database(engine)
        self.keys = KeyRepository(self.db)
        self.sweeper = Sweeper(self.db)
        self.webhooks = WebhookOutbox(self.db)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    # ---- submit and read -------------------------------------------------------------------

    def create_task(
        self,
        tenant_id: str,
        params: TaskParams,
        *,
        max_attempts: int,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        key: ApiKey | None = None,
    ) -> tuple[Task, bool]:
        """Insert a QUEUED task; returns (task, created). With an idempotency key already used by this
        tenant for the same request, returns the existing task and created=False. With `key`, the task
        counts against that key's limits (RateLimitExceeded when they are used up)."""
        if key is not None and key.limits.any and idempotency_key is not None:
            # A replay of a request already accepted costs no quota, and is never refused for it.
            existing = self._by_idempotency_key(tenant_id, idempotency_key)
            if (
                existing
                and existing[1] == request_hash
                and existing[0].created_ms > now_ms() - IDEMPOTENCY_WINDOW_MS
            ):
                return existing[0], False
        row = {
            "id": str(uuid.uuid4()),
            "tenant_id": tenant_id,
            "status": TaskStatus.QUEUED.value,
            "params": params.to_json(),
            "priority": 1 if params.off_peak else 0,
            "max_attempts": max_attempts,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "created_ms": now_ms(),
            "key_id": key.id if key else None,
            "webhook_state": "pending" if params.extra.get("webhook") else None,
            "estimate_ms": params.render_estimate_ms,
        }
        try:
            return self._insert(row, key), True
        except IntegrityError:
            if idempotency_key is None:
                raise
        if self._expire_idempotency_key(tenant_id, idempotency_key):
            return self._insert(row, key), True
        existing = self._by_idempotency_key(tenant_id, idempotency_key)
        if existing is None or existing[1] != request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body."
            ) from None
        return existing[0], False

    def check_quota(self, key: ApiKey) -> None:
        """RateLimitExceeded if `key` is over a limit now; takes nothing (see quotas.admit)."""
        with self.db.read() as conn:
            admit(conn, key, dry_run=True)

    def _insert(self, row: dict[str, Any], key: ApiKey | None = None) -> Task:
        with self.db.write_transaction() as conn:
            if key is not None and key.limits.any:
                admit(conn, key)  # first: it locks the key's row (see store/quotas.py)
            created = _task(conn.execute(insert(tasks).values(row).returning(*tasks.c)).one())
            self.db.announce_work(conn)
        return created

    def _expire_idempotency_key(self, tenant_id: str, key: str) -> bool:
        """An Idempotency-Key binds for 24 h; after that the key may name a new request."""
        statement = (
            update(tasks)
            .where(tasks.c.tenant_id == tenant_id, tasks.c.idempotency_key == key)
            .where(tasks.c.created_ms < now_ms() - IDEMPOTENCY_WINDOW_MS)
            .values(idempotency_key=None)
        )
        return self.db.write_one(statement)

    def _by_idempotency_key(self, tenant_id: str, key: str) -> tuple[Task, str | None] | None:
        query = select(tasks).where(tasks.c.tenant_id == tenant_id, tasks.c.idempotency_key == key)
        with self.db.read() as conn:
            row = conn.execute(query).one_or_none()
        return (_task(row), row.request_hash) if row else None

    def get_task(self, task_id: str, tenant_id: str | None = None) -> Task | None:
        query = select(tasks).where(tasks.c.id == task_id)
        if tenant_id is not None:
            query = query.where(tasks.c.tenant_id == tenant_id)
        with self.db.read() as conn:
            row = conn.execute(query).one_or_none()
        return _task(row) if row else None

    def list_tasks(
        self,
        tenant_id: str,
        *,
        status: TaskStatus | None = None,
        limit: int = 20,
        after: tuple[int, str] | None = None,
    ) -> Sequence[Task]:
        """Newest first. `after` is the (created_ms, id) of the last task of the previous page."""
        query = select(tasks).where(tasks.c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(tasks.c.status == status.value)
        if after is not None:
            created, task_id = after
            query = query.where(
                or_(tasks.c.created_ms < created, and_(tasks.c.created_ms == created, tasks.c.id < task_id))
            )
        query = query.order_by(tasks.c.created_ms.desc(), tasks.c.id.desc()).limit(limit)
        with self.db.read() as conn:
            return [_task(row) for row in conn.execute(query)]

    def work_ahead(self, task: Task) -> WorkAhead:
        """The work before this queued task starts: the estimates of the queued tasks picked before it,
        and the time left of those being rendered (one per busy worker)."""
        priority = int(task.params.off_peak)
        ahead = and_(
            tasks.c.status == TaskStatus.QUEUED.value,
            or_(
                tasks.c.priority < priority,
                and_(tasks.c.priority == priority, tasks.c.created_ms < task.created_ms),
            ),
        )
        rendering = tasks.c.status == TaskStatus.PROCESSING.value
        query = select(
            func.coalesce(func.sum(case((ahead, tasks.c.estimate_ms), else_=0)), 0),
            func.coalesce(func.sum(case((rendering, tasks.c.eta * 1000), else_=0)), 0),
            func.count(case((rendering, 1))),
        ).where(tasks.c.status.in_([TaskStatus.QUEUED.value, TaskStatus.PROCESSING.value]))
        with self.db.read() as conn:
            queued_ms, rendering_ms, busy = conn.execute(query).one()
        return WorkAhead(int(queued_ms) + int(rendering_ms), int(busy))

    def request_cancel(self, task_id: str, tenant_id: str) -> Task | None:
        """A queued task ends at once; a running one is flagged and its worker stops at the next check."""
        ended_ms = now_ms()
        with self.db.write_transaction() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
                .where(tasks.c.status == TaskStatus.QUEUED.value)
                .values(status=TaskStatus.FAILED.value, reason=CANCELED, completed_ms=ended_ms, eta=0)
            )
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
                .where(tasks.c.status == TaskStatus.PROCESSING.value)
                .values(cancel_requested=True)
            )
        return self.get_task(task_id, tenant_id)

    # ---- the worker's side: claim, heartbeat, fenced writes ---------------------------------

    def claim(
        self,
        worker_id: str,
        lease_seconds: float,
        *,
        off_peak_window_open: bool = False,
        off_peak_deadline_s: float | None = None,
    ) -> Task | None:
        """Take the next task. Normal tasks go before off-peak ones, unless the off-peak window is
        open (then first come, first served); off-peak tasks past their deadline are never taken."""
        at = now()
        claimable = and_(
            or_(
                tasks.c.status == TaskStatus.QUEUED.value,
                and_(tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.lease_until < at),
            ),
            tasks.c.attempt < tasks.c.max_attempts,
            tasks.c.cancel_requested.is_(False),
        )
        if off_peak_deadline_s is not None:
            cutoff_ms = int((at - off_peak_deadline_s) * 1000)
            claimable = and_(claimable, or_(tasks.c.priority == 0, tasks.c.created_ms >= cutoff_ms))
        order = (tasks.c.created_ms,) if off_peak_window_open else (tasks.c.priority, tasks.c.created_ms)
        candidate = (
            select(tasks.c.id)
            .where(claimable)
            .order_by(*order)
            .limit(1)
            .with_for_update(skip_locked=self.db.is_postgres)
            .scalar_subquery()
        )
        statement = (
            update(tasks)
            .where(tasks.c.id == candidate, claimable)
            .values(
                status=TaskStatus.PROCESSING.value,
                lease_owner=worker_id,
                lease_until=at + lease_seconds,
                attempt=tasks.c.attempt + 1,
                started_ms=func.coalesce(tasks.c.started_ms, int(at * 1000)),
            )
            .returning(*tasks.c)
        )
        with self.db.write_transaction() as conn:
            row = conn.execute(statement).one_or_none()
        return _task(row) if row else None

    def _fenced(self, task_id: str, attempt: int) -> Any:
        return update(tasks).where(
            tasks.c.id == task_id,
            tasks.c.attempt == attempt,
            tasks.c.status == TaskStatus.PROCESSING.value,
        )

    def renew_lease(self, task_id: str, attempt: int, lease_seconds: float) -> LeaseState:
        renewal = self._fenced(task_id, attempt).values(lease_until=now() + lease_seconds)
        with self.db.write_transaction() as conn:  # one round trip: the renewal returns the flag
            flag = conn.execute(renewal.returning(tasks.c.cancel_requested)).scalar_one_or_none()
        return LeaseState(owned=flag is not None, cancel_requested=bool(flag))

    def attempt_state(self, task_id: str, attempt: int) -> LeaseState:
        """Whether this attempt still holds its task, and whether a cancel was asked: a read only."""
        query = select(tasks.c.cancel_requested).where(
            tasks.c.id == task_id, tasks.c.attempt == attempt, tasks.c.status == TaskStatus.PROCESSING.value
        )
        with self.db.read() as conn:
            flag = conn.execute(query).scalar_one_or_none()
        return LeaseState(owned=flag is not None, cancel_requested=bool(flag))

    def set_progress(self, task_id: str, attempt: int, progress: int, eta: int) -> bool:
        # Progress never goes backwards, even when a retry starts the render again.
        monotonic = case((tasks.c.progress < progress, progress), else_=tasks.c.progress)
        return self.db.write_one(self._fenced(task_id, attempt).values(progress=monotonic, eta=eta))

    def set_params(self, task_id: str, attempt: int, params: TaskParams) -> bool:
        """Record inputs once fetched (URLs replaced by stored hashes), so a retry never re-downloads."""
        return self.db.write_one(self._fenced(task_id, attempt).values(params=params.to_json()))

    def complete(self, task_id: str, attempt: int, output_key: str, info: dict[str, Any]) -> bool:
        """False when the attempt lost its task, or a cancel came in (`attempt_state` tells which):
        a task cancelled while its render finished ends CANCELED, never SUCCEED."""
        return self.db.write_one(
            self._fenced(task_id, attempt)
            .where(tasks.c.cancel_requested.is_(False))
            .values(
                status=TaskStatus.SUCCEED.value,
                progress=100,
                eta=0,
                output_key=output_key,
                result_info=json.dumps(info, sort_keys=True),
                lease_owner=None,
                lease_until=None,
                completed_ms=now_ms(),
            )
        )

    def fail(self, task_id: str, attempt: int, reason: str) -> bool:
        return self.db.write_one(
            self._fenced(task_id, attempt).values(
                status=TaskStatus.FAILED.value,
                reason=reason,
                eta=0,
                lease_owner=None,
                lease_until=None,
                completed_ms=now_ms(),
            )
        )

    def release(self, task_id: str, attempt: int) -> bool:
        """Give a task back to the queue after a fault that a retry may not hit; a task whose cancel
        was asked for ends CANCELED instead (claim never takes it again)."""
        cancelled = tasks.c.cancel_requested.is_(True)
        statement = self._fenced(task_id, attempt).values(
            status=case((cancelled, TaskStatus.FAILED.value), else_=TaskStatus.QUEUED.value),
            reason=case((cancelled, CANCELED), else_=""),
            completed_ms=case((cancelled, now_ms()), else_=None),
            lease_owner=None,
            lease_until=None,
        )
        with self.db.write_transaction() as conn:
            released = conn.execute(statement).rowcount == 1
            self.db.announce_work(conn)
        return released

    def count_by_status(self) -> dict[TaskStatus, int]:
        query = select(tasks.c.status, func.count()).group_by(tasks.c.status)
        with self.db.read() as conn:
            return {TaskStatus(status): int(count) for status, count in conn.execute(query)}

    def has_claimable(self) -> bool:
        query = select(tasks.c.id).where(tasks.c.status == TaskStatus.QUEUED.value).limit(1)
        with self.db.read() as conn:
            return conn.execute(query).first() is not None
