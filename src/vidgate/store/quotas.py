"""Admitting a submit under its key's limits, inside the transaction that inserts the task.

The first statement locks the key's row: an UPDATE that takes a token from the bucket (or touches
the row when the key has no rate). On PostgreSQL that is a row lock; on SQLite it takes the
database's write lock. Either way every other submit with the same key, from any API process
sharing the database, waits for this transaction, so the counts of tasks in flight and of today's
tasks (the usage ledger's `submitted`, store/usage.py) it reads next are exact, and the task it
inserts (and its ledger row) is counted by the next one. A refusal rolls
the transaction back, so a submit that is refused for concurrency keeps its token.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, case, func, literal, select, update

from vidgate import clock
from vidgate.errors import RateLimitExceeded
from vidgate.store.tables import api_keys, tasks
from vidgate.store.usage import submitted_on
from vidgate.tasks.model import ApiKey, TaskStatus

# When every task in flight is still queued nobody can say when a slot frees; ask to come back soon.
CONCURRENCY_RETRY_S = 5
ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.PROCESSING.value)


def admit(conn: Connection, key: ApiKey, now: float | None = None, *, dry_run: bool = False) -> None:
    """Raise RateLimitExceeded unless `key` may submit one more task now; takes a rate token.

    `dry_run` only looks (no lock, no token taken): the API asks before it decodes a request's
    images, so a client over its limit costs a query, not a decode; `admit` proper decides."""
    now = clock.now() if now is None else now
    limits = key.limits
    if limits.rate is not None:
        _take_token(conn, key, now, dry_run)
    elif not dry_run:
        conn.execute(
            update(api_keys).where(api_keys.c.id == key.id).values(rate_updated=api_keys.c.rate_updated)
        )
    if limits.concurrency is not None:
        in_flight, soonest_eta = conn.execute(
            select(
                func.count(),
                func.min(
                    case((and_(tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.eta > 0), tasks.c.eta))
                ),
            ).where(tasks.c.key_id == key.id, tasks.c.status.in_(ACTIVE))
        ).one()
        if in_flight >= limits.concurrency:
            raise RateLimitExceeded(
                f"This key may have {_tasks(limits.concurrency)} queued or processing at once; "
                "wait for one to finish.",
                int(soonest_eta or CONCURRENCY_RETRY_S),
                {"limit": limits.concurrency, "quota": "concurrency"},
            )
    if limits.daily is not None:
        day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        today = submitted_on(conn, key.id, day.date().isoformat())
        if today >= limits.daily:
            reset = day + timedelta(days=1)
            raise RateLimitExceeded(
                f"This key may submit {_tasks(limits.daily)} per day (UTC); the quota resets at "
                f"{reset.isoformat()}.",
                math.ceil(reset.timestamp() - now),
                {"limit": limits.daily, "quota": "daily"},
            )


def _take_token(conn: Connection, key: ApiKey, now: float, dry_run: bool) -> None:
    """The token bucket, refilled and spent in one conditional UPDATE, so no two processes can both
    spend the last token. A new bucket (NULL) is full."""
    limits = key.limits
    capacity = float(limits.rate or 0)
    elapsed = literal(now) - func.coalesce(api_keys.c.rate_updated, now)
    elapsed = case((elapsed < 0, 0.0), else_=elapsed)  # another host's clock ran ahead of ours
    grown = func.coalesce(api_keys.c.rate_tokens, capacity) + elapsed * limits.refill_per_s
    tokens = case((grown > capacity, capacity), else_=grown)
    if not dry_run:
        taken = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key.id, tokens >= 1)
            .values(rate_tokens=tokens - 1, rate_updated=now)
        )
        if taken.rowcount == 1:
            return
    left = conn.execute(select(tokens).where(api_keys.c.id == key.id)).scalar_one_or_none() or 0.0
    if dry_run and left >= 1:
        return
    raise RateLimitExceeded(
        f"This key may submit {_tasks(limits.rate or 0)} per {limits.rate_period_s} s; slow down.",
        math.ceil((1 - float(left)) / limits.refill_per_s),
        {"limit": limits.rate, "period_s": limits.rate_period_s, "quota": "rate"},
    )


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"
