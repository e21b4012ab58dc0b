"""Which database errors mean "out of reach for now" (a 503 with Retry-After, a worker that waits)
and which are faults (a 500, a task retried)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from vidgate.store.database import is_unavailable
from vidgate.store.db import open_engine


def test_a_refused_connection_is_unavailable() -> None:
    engine = open_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")  # nobody listens on port 1
    with pytest.raises(exc.OperationalError) as raised:
        engine.connect()
    engine.dispose()
    assert is_unavailable(raised.value)


def test_a_connection_cut_under_another_error_is_unavailable() -> None:
    cut = exc.DBAPIError(
        "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
    )
    assert is_unavailable(cut)


@pytest.mark.parametrize(
    "error",
    [
        exc.IntegrityError("INSERT ...", {}, Exception("duplicate key")),
        exc.ProgrammingError("SELEC 1", {}, Exception("syntax error")),
        ValueError("not a database error"),
    ],
)
def test_faults_are_not_unavailable(error: Exception) -> None:
    assert not is_unavailable(error)


def test_sqlite_s_lock_held_past_the_busy_timeout_is_unavailable() -> None:
    locked = exc.OperationalError("UPDATE tasks ...", {}, Exception("database is locked"))
    assert is_unavailable(locked)
