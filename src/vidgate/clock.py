"""Wall-clock time, in one place: every timestamp vidgate records or compares (task times, leases,
quotas, signed links, webhooks) reads `now()`, so that a test can move time for all of them at once
(`moved`, `frozen`). Durations and timeouts use `time.monotonic()`, which no test needs to move."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

_offset_s = 0.0
_frozen_at: float | None = None


def now() -> float:
    """Epoch seconds."""
    return _frozen_at if _frozen_at is not None else time.time() + _offset_s


def now_ms() -> int:
    return int(now() * 1000)


@contextlib.contextmanager
def moved(by_s: float) -> Iterator[None]:
    """The tests' seam: inside, every clock reading in this process is `by_s` seconds later."""
    global _offset_s
    _offset_s += by_s
    try:
        yield
    finally:
        _offset_s -= by_s


class FrozenClock:
    def advance(self, seconds: float) -> None:
        global _frozen_at
        assert _frozen_at is not None, "only inside frozen()"
        _frozen_at += seconds


@contextlib.contextmanager
def frozen(at: float) -> Iterator[FrozenClock]:
    """The tests' seam for exact times: inside, the clock reads `at` until advanced."""
    global _frozen_at
    previous, _frozen_at = _frozen_at, at
    try:
        yield FrozenClock()
    finally:
        _frozen_at = previous
