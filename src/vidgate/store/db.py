"""Opening the database and bringing its schema up to date.

SQLite is the embedded default and is set up for several processes sharing one file: WAL (readers
never block the writer) and a busy timeout (writers queue instead of failing). Every
write transaction vidgate runs starts with its write, so no transaction upgrades a read lock to a
write lock, the one case a busy timeout cannot save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from vidgate.store.sql import SqlTaskStore

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30


def open_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Apply every migration not yet applied. Safe to call from several processes at once."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Several processes may start together; one migrates, the others wait for it.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7461636875)")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the same, by taking SQLite's write lock first
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_task_store(url: str) -> SqlTaskStore:
    """The store every process uses: the engine opened and the schema brought up to date."""
    engine = open_engine(url)
    migrate(engine)
    return SqlTaskStore(engine)
