"""The webhook outbox: delivery state kept on the task rows, every change a compare-and-set.

A part of the task store (`store.webhooks`); `vidgate/webhooks.py` signs and sends. States: `pending`
(set at submit when a URL is given; due once the task ends), `sending` (a sender holds it until
`webhook_next_ms`), `retry` (due at `webhook_next_ms`), `delivered`, `failed`. Tasks without a webhook
have no state and are never looked at.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select, update

from vidgate.clock import now_ms
from vidgate.store.database import Database
from vidgate.store.tables import tasks
from vidgate.tasks.model import TERMINAL_STATUSES

SEND_LEASE_MS = 60_000
ENDED = tuple(status.value for status in TERMINAL_STATUSES)


class WebhookOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _due(now: int) -> ColumnElement[bool]:
        return and_(
            tasks.c.status.in_(ENDED),
            or_(
                tasks.c.webhook_state == "pending",
                and_(tasks.c.webhook_state.in_(("retry", "sending")), tasks.c.webhook_next_ms <= now),
            ),
        )

    def claim_due(self) -> tuple[str, int] | None:
        """Take one due delivery: (task id, the lease we wrote, which `record_attempt` must still find)."""
        now = now_ms()
        with self.db.read() as conn:
            task_id = conn.execute(select(tasks.c.id).where(self._due(now)).limit(1)).scalar_one_or_none()
        if task_id is None:
            return None
        lease = now + SEND_LEASE_MS
        take = update(tasks).where(tasks.c.id == task_id, self._due(now))
        taken = self.db.write_one(take.values(webhook_state="sending", webhook_next_ms=lease))
        return (task_id, lease) if taken else None

    def record_attempt(
        self, task_id: str, lease: int, delivered: bool, retry_delays_s: Sequence[float]
    ) -> str | None:
        """Record one attempt's outcome; returns the new state, or None when our lease ran out and
        another sender took the delivery over (its outcome is the one that counts). After
        `len(retry_delays_s)` retries the delivery is marked failed."""
        with self.db.read() as conn:
            attempts = conn.execute(
                select(tasks.c.webhook_attempts).where(tasks.c.id == task_id)
            ).scalar_one()
        attempts += 1
        if delivered:
            state, next_ms = "delivered", None
        elif attempts > len(retry_delays_s):
            state, next_ms = "failed", None
        else:
            state, next_ms = "retry", now_ms() + int(retry_delays_s[attempts - 1] * 1000)
        ours = and_(tasks.c.webhook_state == "sending", tasks.c.webhook_next_ms == lease)
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, ours)
            .values(
                webhook_state=state, webhook_attempts=tasks.c.webhook_attempts + 1, webhook_next_ms=next_ms
            )
        )
        return state if self.db.write_one(statement) else None
