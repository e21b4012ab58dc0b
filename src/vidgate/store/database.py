"""The connection the store's parts share: one engine, and on SQLite one write lock per process."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, exc, text

from vidgate.store.wakeup import CHANNEL

# What SQLAlchemy raises when the database cannot be reached for now: the server down or restarting
# (connection refused, "the database system is shutting down"), a connection cut mid-query, no
# pooled connection free in time, SQLite's lock still held after its busy timeout. Each is worth a
# retry later, not a fault of the request; the API answers 503 with Retry-After, a worker waits.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.DisconnectionError,
    exc.TimeoutError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is out of reach for now (see UNAVAILABLE_ERRORS)."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, UNAVAILABLE_ERRORS)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        # SQLite allows one writer at a time, and a writer that finds the lock taken sleeps in
        # SQLite's busy handler (1 ms growing to 100 ms). Threads of one process queue on this lock
        # instead, which hands over at once; other processes still meet the busy timeout.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if self.is_postgres else threading.Lock()
        )

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def write_one(self, statement: Any) -> bool:
        """Run one write in its own transaction; whether it changed exactly one row."""
        with self.write_transaction() as conn:
            return conn.execute(statement).rowcount == 1

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def announce_work(self, conn: Connection) -> None:
        """Wake idle workers (PostgreSQL LISTEN); delivered when this transaction commits."""
        if self.is_postgres:
            conn.execute(text(f"NOTIFY {CHANNEL}"))
