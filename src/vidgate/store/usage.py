"""The usage ledger: per tenant, key, engine and UTC day, tasks submitted, succeeded, failed and
cancelled, seconds of video delivered and seconds of rendering.

A part of the task store (`store.usage`). Figures are added in the transaction that makes them true:
`submitted` in the task's insert (the day it was submitted), the rest in its terminal transition (the
day it ended). Every terminal write is fenced (by attempt, or by status for the sweeper and a cancel),
so it happens once however many attempts a task took, and so does its count. Render time is from the
task's first claim to its end, retries and waits for an upstream provider included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vidgate.errors import CANCELED
from vidgate.store.database import Database
from vidgate.store.tables import USAGE_COUNTS, tasks, usage
from vidgate.tasks.model import TaskParams, TaskStatus

# What a report may group by: the API's callers day, key and engine; the operator's also tenant.
_GROUP_COLUMNS = {
    "day": usage.c.day,
    "key": usage.c.key_id,
    "engine": usage.c.engine,
    "tenant": usage.c.tenant_id,
}
FIGURES = (*USAGE_COUNTS, "video_seconds", "render_seconds")
# What a terminal transition's UPDATE returns for `add_ended`.
ENDED_COLUMNS = tuple(
    tasks.c[name]
    for name in ("tenant_id", "key_id", "engine", "status", "reason", "params", "started_ms", "completed_ms")
)


@dataclass(frozen=True)
class UsageFigures:
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    video_seconds: float = 0.0
    render_seconds: float = 0.0


@dataclass(frozen=True)
class UsageRow:
    group: dict[str, str]  # the values of the grouped-by columns: day, key (its id, "" for none), engine
    figures: UsageFigures


def utc_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def add(
    conn: Connection, tenant_id: str, key_id: str | None, engine: str, at_ms: int, **figures: float
) -> None:
    """Add `figures` to the ledger row of (tenant, key, engine, UTC day of `at_ms`), in `conn`'s
    transaction: one upsert, so concurrent writers never lose an increment."""
    insert = postgres_insert if conn.dialect.name == "postgresql" else sqlite_insert
    row = {"tenant_id": tenant_id, "key_id": key_id or "", "engine": engine, "day": utc_day(at_ms)}
    statement = insert(usage).values(row | figures)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(row), set_={name: usage.c[name] + value for name, value in figures.items()}
        )
    )


def add_ended(conn: Connection, ended: Any) -> None:
    """Count a task's terminal transition: `ended` is the row its fenced UPDATE returned (tenant_id,
    key_id, engine, status, reason, params, started_ms, completed_ms)."""
    figures: dict[str, float] = {}
    if ended.status == TaskStatus.SUCCEED.value:
        figures["succeeded"] = 1
        figures["video_seconds"] = float(TaskParams.from_json(ended.params).duration)
    elif ended.reason == CANCELED:
        figures["cancelled"] = 1
    else:
        figures["failed"] = 1
    if ended.started_ms is not None:
        figures["render_seconds"] = max(0, ended.completed_ms - ended.started_ms) / 1000
    add(conn, ended.tenant_id, ended.key_id, ended.engine, ended.completed_ms, **figures)


def submitted_on(conn: Connection, key_id: str, day: str) -> int:
    """Tasks submitted with this key on this UTC day (the daily quota's count)."""
    query = select(func.coalesce(func.sum(usage.c.submitted), 0)).where(
        usage.c.key_id == key_id, usage.c.day == day
    )
    return int(conn.execute(query).scalar_one())


class UsageLedger:
    def __init__(self, db: Database) -> None:
        self.db = db

    def report(
        self,
        *,
        since: date,
        until: date,
        group_by: Sequence[str] = ("day",),
        tenant_id: str | None = None,
        key_id: str | None = None,
    ) -> list[UsageRow]:
        """The figures of the days `since`..`until` (inclusive), summed over what is not grouped by;
        ordered by the groups. `tenant_id`/`key_id` narrow to one tenant or key."""
        columns = [_GROUP_COLUMNS[name].label(name) for name in group_by]
        sums = [func.sum(usage.c[name]).label(name) for name in FIGURES]
        query = (
            select(*columns, *sums)
            .where(usage.c.day >= since.isoformat(), usage.c.day <= until.isoformat())
            .group_by(*columns)
            .order_by(*columns)
        )
        if tenant_id is not None:
            query = query.where(usage.c.tenant_id == tenant_id)
        if key_id is not None:
            query = query.where(usage.c.key_id == key_id)
        with self.db.read() as conn:
            return [
                UsageRow(
                    group={name: str(getattr(row, name)) for name in group_by},
                    figures=_figures(row),
                )
                for row in conn.execute(query)
                if row.submitted is not None
            ]

    def totals_by_engine(self) -> dict[str, UsageFigures]:
        """All-time figures per engine (the Prometheus counters)."""
        query = select(usage.c.engine, *(func.sum(usage.c[name]).label(name) for name in FIGURES)).group_by(
            usage.c.engine
        )
        with self.db.read() as conn:
            return {row.engine: _figures(row) for row in conn.execute(query)}


def _figures(row: Any) -> UsageFigures:
    return UsageFigures(
        **{name: int(getattr(row, name) or 0) for name in USAGE_COUNTS},
        video_seconds=float(row.video_seconds or 0),
        render_seconds=float(row.render_seconds or 0),
    )
