"""The task store on SQLAlchemy Core: one class for SQLite and PostgreSQL.

The tasks table is the queue. A worker claims with one compare-and-set UPDATE (PostgreSQL adds
`FOR UPDATE SKIP LOCKED` so claimers never wait on each other), renews its lease by heartbeat, and every
write it makes afterwards is fenced by `attempt = :mine`: once a lease expired and another worker
claimed the task, the old worker's writes match no row and it learns it lost the task.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Mapping, Sequence
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
from vidgate.store.retention import InputsGone, RetentionStore
from vidgate.store.sweep import Sweeper
from vidgate.store.tables import tasks
from vidgate.store.usage import ENDED_COLUMNS, UsageLedger, add, add_ended
from vidgate.store.workers import WorkerRegistry
from vidgate.tasks.model import ApiKey, Task, TaskParams, TaskStatus

IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000
ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.PROCESSING.value)
# The order claims take queued tasks in: normal before off-peak, then first come first served; the
# id breaks ties between tasks submitted in the same millisecond, so the order is total.
CLAIM_ORDER = (tasks.c.priority, tasks.c.created_ms, tasks.c.id)
CAPPED_CLAIM_LOCK = 7461636876  # a PostgreSQL advisory lock key (the migration lock is ...875)


@dataclass(frozen=True)
class WorkAhead:
    estimate_ms: int  # queued work picked first, plus what is left of the renders under way
    busy_workers: int  # workers rendering now: the work ahead is shared among at least these


@dataclass(frozen=True)
class LeaseState:
    owned: bool  # False: the lease was lost (expired and claimed again, or task ended)
    cancel_requested: bool


_id_lock = threading.Lock()
_last_id_ms = 0
_id_sequence = 0


def new_task_id(created_ms: int) -> str:
    """A version 7 UUID (RFC 9562): the creation time in its first 48 bits, then a sequence within
    the millisecond, so that ids sort as this process created them. The claim order ends with the
    id, so tasks submitted in the same millisecond are still served first come, first served."""
    global _last_id_ms, _id_sequence
    with _id_lock:
        if created_ms > _last_id_ms:
            _last_id_ms, _id_sequence = created_ms, secrets.randbelow(1 << 11)  # room to count up
        else:
            _id_sequence += 1
            if _id_sequence >= 1 << 12:  # 4096 in one millisecond: borrow the next one
                _last_id_ms, _id_sequence = _last_id_ms + 1, 0
        ms, sequence = _last_id_ms, _id_sequence
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | sequence << 64 | 0b10 << 62 | secrets.randbits(62)
    return str(uuid.UUID(int=value))


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
        engine=row.engine,
        engine_state=json.loads(row.engine_state),
        estimate_ms=row.estimate_ms,
        expired_ms=row.expired_ms,
    )


class SqlTaskStore:
    """Tasks, and the parts that share their database: `keys`, `sweeper`, the `webhooks` outbox,
    the `workers` registry, the `usage` ledger and `retention`."""

    def __init__(self, engine: Engine) -> None:
        self.db = Database(engine)
        self.keys = KeyRepository(self.db)
        self.sweeper = Sweeper(self.db)
        self.webhooks = WebhookOutbox(self.db)
        self.workers = WorkerRegistry(self.db)
        self.usage = UsageLedger(self.db)
        self.retention = RetentionStore(self.db)

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
        engine: str = "motion",
        estimate_ms: int = 0,
        stored_inputs: Sequence[str] = (),
    ) -> tuple[Task, bool]:
        """Insert a QUEUED task for `engine`; returns (task, created). With an idempotency key already
        used by this tenant for the same request, returns the existing task and created=False. With
        `key`, the task counts against that key's limits (RateLimitExceeded when they are used up).
        `stored_inputs` (digests the caller registered, see store/retention.py) are renewed in the
        insert's transaction; InputsGone when retention deleted one meanwhile (nothing is inserted)."""
        if key is not None and key.limits.any and idempotency_key is not None:
            # A replay of a request already accepted costs no quota, and is never refused for it.
            existing = self._by_idempotency_key(tenant_id, idempotency_key)
            if (
                existing
                and existing[1] == request_hash
                and existing[0].created_ms > now_ms() - IDEMPOTENCY_WINDOW_MS
            ):
                return existing[0], False
        created_ms = now_ms()
        row = {
            "id": new_task_id(created_ms),
            "tenant_id": tenant_id,
            "status": TaskStatus.QUEUED.value,
            "params": params.to_json(),
            "priority": 1 if params.off_peak else 0,
            "max_attempts": max_attempts,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "created_ms": created_ms,
            "key_id": key.id if key else None,
            "webhook_state": "pending" if params.extra.get("webhook") else None,
            "estimate_ms": estimate_ms,
            "engine": engine,
        }
        try:
            return self._insert(row, key, stored_inputs), True
        except IntegrityError:
            if idempotency_key is None:
                raise
        if self._expire_idempotency_key(tenant_id, idempotency_key):
            return self._insert(row, key, stored_inputs), True
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

    def _insert(self, row: dict[str, Any], key: ApiKey | None, stored_inputs: Sequence[str]) -> Task:
        with self.db.write_transaction() as conn:
            if key is not None and key.limits.any:
                admit(conn, key)  # first: it locks the key's row (see store/quotas.py)
            if not RetentionStore.keep(conn, stored_inputs):
                raise InputsGone
            created = _task(conn.execute(insert(tasks).values(row).returning(*tasks.c)).one())
            add(conn, created.tenant_id, row["key_id"], created.engine, created.created_ms, submitted=1)
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

    def work_ahead(self, queued: Sequence[Task]) -> dict[str, WorkAhead]:
        """For each queued task (by id), the work before it starts: the estimates of the queued tasks
        of its engine picked before it, and what is left of that engine's renders under way. Two
        statements, however many tasks are asked about (a listing asks about a page of them)."""
        ids = [task.id for task in queued]
        if not ids:
            return {}
        # Every queued task of the same engines up to and including this one, in claim order, less
        # its own estimate: exactly the tasks a claim takes first.
        up_to_here = func.sum(tasks.c.estimate_ms).over(
            partition_by=tasks.c.engine, order_by=CLAIM_ORDER, rows=(None, 0)
        )
        queue = (
            select(tasks.c.id, tasks.c.engine, (up_to_here - tasks.c.estimate_ms).label("ahead_ms"))
            .where(tasks.c.status == TaskStatus.QUEUED.value)
            .where(tasks.c.engine.in_({task.engine for task in queued}))
            .subquery()
        )
        rendering = (
            select(tasks.c.engine, func.sum(tasks.c.eta * 1000), func.count())
            .where(tasks.c.status == TaskStatus.PROCESSING.value)
            .group_by(tasks.c.engine)
        )
        with self.db.read() as conn:
            ahead = conn.execute(select(queue).where(queue.c.id.in_(ids))).all()
            busy = {
                engine: (int(left_ms or 0), int(count)) for engine, left_ms, count in conn.execute(rendering)
            }
        return {
            row.id: WorkAhead(
                int(row.ahead_ms or 0) + busy.get(row.engine, (0, 0))[0], busy.get(row.engine, (0, 0))[1]
            )
            for row in ahead
        }

    def request_cancel(self, task_id: str, tenant_id: str) -> Task | None:
        """A queued task ends at once; a running one is flagged and its worker stops at the next check."""
        ended_ms = now_ms()
        with self.db.write_transaction() as conn:
            ended = conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
                .where(tasks.c.status == TaskStatus.QUEUED.value)
                .values(status=TaskStatus.FAILED.value, reason=CANCELED, completed_ms=ended_ms, eta=0)
                .returning(*ENDED_COLUMNS)
            ).one_or_none()
            if ended is not None:
                add_ended(conn, ended)
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
        engines: Sequence[str] = ("motion",),
        caps: Mapping[str, int] | None = None,
        off_peak_window_open: bool = False,
        off_peak_deadline_s: float | None = None,
    ) -> Task | None:
        """Take the next task of one of `engines`. Normal tasks go before off-peak ones, unless the
        off-peak window is open (then first come, first served); off-peak tasks past their deadline
        are never taken. `caps` bounds the tasks of an engine running at once across the deployment
        (an upstream provider's concurrency): surplus tasks wait here, in the queue."""
        at = now()
        claimable = and_(
            tasks.c.engine.in_(engines),
            or_(
                tasks.c.status == TaskStatus.QUEUED.value,
                and_(tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.lease_until < at),
            ),
            tasks.c.attempt < tasks.c.max_attempts,
            tasks.c.cancel_requested.is_(False),
        )
        capped = {engine: cap for engine, cap in (caps or {}).items() if engine in engines}
        for engine, cap in capped.items():
            running = (
                select(func.count())
                .select_from(tasks)
                .where(tasks.c.engine == engine, tasks.c.status == TaskStatus.PROCESSING.value)
                .where(tasks.c.lease_until >= at)
                .scalar_subquery()
            )
            claimable = and_(claimable, or_(tasks.c.engine != engine, running < cap))
        if off_peak_deadline_s is not None:
            cutoff_ms = int((at - off_peak_deadline_s) * 1000)
            claimable = and_(claimable, or_(tasks.c.priority == 0, tasks.c.created_ms >= cutoff_ms))
        order = (tasks.c.created_ms, tasks.c.id) if off_peak_window_open else CLAIM_ORDER
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
            if capped and self.db.is_postgres:
                # Claimers of a capped engine count its running tasks one at a time (SQLite's one
                # writer already does), so two claims never both take the last slot.
                conn.execute(select(func.pg_advisory_xact_lock(CAPPED_CLAIM_LOCK)))
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

    def set_params(
        self, task_id: str, attempt: int, params: TaskParams, stored_inputs: Sequence[str] = ()
    ) -> bool:
        """Record inputs once fetched (URLs replaced by stored hashes), so a retry never re-downloads;
        `stored_inputs` as in `create_task` (InputsGone, and nothing written, when one is gone)."""
        with self.db.write_transaction() as conn:
            if conn.execute(self._fenced(task_id, attempt).values(params=params.to_json())).rowcount != 1:
                return False
            if not RetentionStore.keep(conn, stored_inputs):
                raise InputsGone
        return True

    def save_engine_state(
        self, task_id: str, attempt: int, values: Mapping[str, Any], public: Mapping[str, Any]
    ) -> bool:
        """Merge `values` into what the task's engine keeps across attempts, and `public` into the
        task's `extra`, fenced by attempt: False when this attempt no longer holds the task."""
        read = select(tasks.c.engine_state, tasks.c.result_info).where(tasks.c.id == task_id)
        with self.db.write_transaction() as conn:
            # The fenced write comes first: it takes the row's lock (PostgreSQL) or the database's
            # (SQLite), so the read after it and the merge cannot race another writer.
            if conn.execute(self._fenced(task_id, attempt).values(attempt=attempt)).rowcount != 1:
                return False
            state, info = conn.execute(read).one()
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(
                    engine_state=json.dumps(json.loads(state) | dict(values), sort_keys=True),
                    result_info=json.dumps(json.loads(info) | dict(public), sort_keys=True),
                )
            )
        return True

    def push_engine_event(self, task_id: str, event: Mapping[str, Any]) -> bool:
        """Record an event for a task not yet ended (an upstream provider's callback), for its
        engine to read with `engine_event`; False when there is no such task or it has ended."""
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.status.in_(ACTIVE))
            .values(engine_event=json.dumps(dict(event), sort_keys=True))
        )
        return self.db.write_one(statement)

    def engine_event(self, task_id: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            text_ = conn.execute(
                select(tasks.c.engine_event).where(tasks.c.id == task_id)
            ).scalar_one_or_none()
        return json.loads(text_) if text_ else None

    def complete(self, task_id: str, attempt: int, output_key: str, info: dict[str, Any]) -> bool:
        """False when the attempt lost its task, or a cancel came in (`attempt_state` tells which):
        a task cancelled while its render finished ends CANCELED, never SUCCEED."""
        return self._end(
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

    def fail(self, task_id: str, attempt: int, reason: str, info: dict[str, Any] | None = None) -> bool:
        """End the task FAILED with `reason`; `info`, when given, becomes its `extra` notes."""
        notes = {} if info is None else {"result_info": json.dumps(info, sort_keys=True)}
        return self._end(
            self._fenced(task_id, attempt).values(
                status=TaskStatus.FAILED.value,
                reason=reason,
                eta=0,
                lease_owner=None,
                lease_until=None,
                completed_ms=now_ms(),
                **notes,
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
            released = conn.execute(statement.returning(*ENDED_COLUMNS)).one_or_none()
            if released is not None and released.status == TaskStatus.FAILED.value:
                add_ended(conn, released)
            self.db.announce_work(conn)
        return released is not None

    def _end(self, statement: Any) -> bool:
        """Run a task's fenced terminal UPDATE and count it in the usage ledger, in one transaction:
        whether it changed the task (a write that lost its fence counts nothing)."""
        with self.db.write_transaction() as conn:
            ended = conn.execute(statement.returning(*ENDED_COLUMNS)).one_or_none()
            if ended is not None:
                add_ended(conn, ended)
        return ended is not None

    def count_by_status(self) -> dict[tuple[TaskStatus, str], int]:
        """Tasks by (status, engine)."""
        query = select(tasks.c.status, tasks.c.engine, func.count()).group_by(tasks.c.status, tasks.c.engine)
        with self.db.read() as conn:
            return {(TaskStatus(status), engine): int(count) for status, engine, count in conn.execute(query)}

    def count_failed_with(self, reason: str, engine: str) -> int:
        """Tasks of `engine` that ended FAILED with this reason (the reason, then `: ` and its words);
        the status and engine narrow it on the claim index before the reasons are read."""
        query = select(func.count()).where(
            tasks.c.status == TaskStatus.FAILED.value,
            tasks.c.engine == engine,
            tasks.c.reason.startswith(f"{reason}:"),
        )
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())
