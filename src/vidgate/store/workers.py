"""Live workers and the engines each runs: a part of the task store (`store.workers`).

A worker announces itself when it starts and renews `seen_ms` while it runs (worker/runner.py); one
not seen for `stale_s` is gone (a clean stop removes its row at once). The API reads this to say
which enabled engine no worker serves: its tasks wait QUEUED until one starts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update

from vidgate.clock import now_ms
from vidgate.store.database import Database
from vidgate.store.tables import workers

# A worker renews its row this often; one not seen for STALE_S is counted as gone.
ANNOUNCE_INTERVAL_S = 5.0
STALE_S = 3 * ANNOUNCE_INTERVAL_S


class WorkerRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    def announce(self, worker_id: str, engines: Sequence[str]) -> None:
        """Say that this worker runs `engines`, now; called at start and then every few seconds."""
        at = now_ms()
        seen = update(workers).where(workers.c.id == worker_id).values(seen_ms=at, engines=",".join(engines))
        with self.db.write_transaction() as conn:
            if conn.execute(seen).rowcount == 0:
                row = {"id": worker_id, "engines": ",".join(engines), "started_ms": at, "seen_ms": at}
                conn.execute(insert(workers).values(row))

    def leave(self, worker_id: str) -> None:
        with self.db.write_transaction() as conn:
            conn.execute(delete(workers).where(workers.c.id == worker_id))

    def live_by_engine(self, stale_s: float = STALE_S) -> Counter[str]:
        """How many live workers run each engine (seen within `stale_s`, by each host's own clock)."""
        cutoff = now_ms() - int(stale_s * 1000)
        with self.db.read() as conn:
            rows = conn.execute(select(workers.c.engines).where(workers.c.seen_ms >= cutoff)).scalars().all()
        counts: Counter[str] = Counter()
        for engines in rows:
            counts.update(name for name in engines.split(",") if name)
        return counts

    def forget_gone(self, stale_s: float = STALE_S) -> int:
        """Remove the rows of workers not seen for 10 x `stale_s` (killed, their host gone)."""
        cutoff = now_ms() - int(10 * stale_s * 1000)
        with self.db.write_transaction() as conn:
            return conn.execute(delete(workers).where(workers.c.seen_ms < cutoff)).rowcount
