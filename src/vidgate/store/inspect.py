"""A read-only look at the database, for `vidgate doctor`: its migration revision and its clock,
without creating, migrating or locking anything."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from vidgate import clock
from vidgate.store.db import MIGRATIONS_DIR

CONNECT_TIMEOUT_S = 5
DATABASE_NOW = "SELECT extract(epoch FROM clock_timestamp())"  # PostgreSQL's clock, not the transaction's


@dataclass(frozen=True)
class Revisions:
    current: str | None  # None: no migration applied yet
    head: str  # this vidgate's newest migration
    known: frozenset[str]  # every migration this vidgate has

    @property
    def newer_than_code(self) -> bool:
        return self.current is not None and self.current not in self.known


def is_shared(database_url: str) -> bool:
    """A database other hosts' processes can share (anything but SQLite's file)."""
    return make_url(database_url).get_backend_name() != "sqlite"


def not_created_yet(database_url: str) -> bool:
    """An SQLite file the first `vidgate serve` or `vidgate worker` will create."""
    url = make_url(database_url)
    return (
        url.get_backend_name() == "sqlite"
        and bool(url.database)
        and url.database != ":memory:"
        and not Path(str(url.database)).exists()
    )


@contextmanager
def _connection(database_url: str) -> Iterator[Connection]:
    url = make_url(database_url)
    options = {} if url.get_backend_name() == "sqlite" else {"connect_timeout": CONNECT_TIMEOUT_S}
    engine = create_engine(url, poolclass=NullPool, connect_args=options)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def revisions(database_url: str) -> Revisions:
    """Raises what connecting raises (ImportError for a missing driver)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    with _connection(database_url) as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    known = frozenset(script.revision for script in scripts.walk_revisions())
    return Revisions(current, str(scripts.get_current_head()), known)


def clock_skew_s(database_url: str) -> float | None:
    """The database's clock minus this host's, in seconds; None for SQLite (it is this host's)."""
    if not is_shared(database_url):
        return None
    with _connection(database_url) as connection:
        before = clock.now()
        database_now = float(
            connection.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one()
        )
        after = clock.now()
    return database_now - (before + after) / 2
