"""Waking idle workers the moment work arrives.

PostgreSQL: submit sends `NOTIFY vidgate_tasks` in the inserting transaction (so it is delivered
only once the task is committed) and idle workers block in LISTEN: pick-up latency is a round trip,
and an idle fleet sends no queries. SQLite has no notifications across processes: an idle worker
polls with one cheap indexed query every `poll_interval` (50 ms by default).
Either way a worker also wakes every `fallback_s` (the sweep interval) to find tasks whose lease
expired: no event announces those.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import Engine

CHANNEL = "vidgate_tasks"
log = logging.getLogger("vidgate.worker")


class WorkWaiter:
    def __init__(self, engine: Engine, poll_interval: float, fallback_s: float) -> None:
        self.engine = engine
        self.listens = engine.dialect.name == "postgresql"
        self.poll_interval = poll_interval
        self.fallback_s = fallback_s
        self._pooled: Any = None  # the pooled connection we keep checked out for LISTEN

    def wait(self, stop: threading.Event) -> None:
        """Return when work may be waiting, after the timeout, or soon after `stop` is set."""
        if not self.listens:
            stop.wait(self.poll_interval)
            return
        try:
            connection = self._listening_connection()
            for _notify in connection.notifies(timeout=self.fallback_s, stop_after=1):
                break
        except Exception:
            log.warning("LISTEN connection failed; polling until it is back", exc_info=True)
            self.close()
            stop.wait(self.poll_interval)

    def _listening_connection(self) -> Any:
        if self._pooled is None:
            self._pooled = self.engine.raw_connection()
            driver = self._pooled.driver_connection
            driver.autocommit = True
            driver.execute(f"LISTEN {CHANNEL}")
        return self._pooled.driver_connection

    def close(self) -> None:
        if self._pooled is not None:
            with contextlib.suppress(Exception):
                self._pooled.invalidate()  # never hand a LISTENing connection back to the pool
            self._pooled = None
