"""`vidgate serve`'s embedded workers are supervised: a dead one is replaced, a broken one is not
restarted in a tight loop. (The replacement of a worker killed mid-render is in tests/e2e.)"""

from __future__ import annotations

import logging
import re
import signal
import time
from pathlib import Path

import pytest

from vidgate.settings import Settings
from vidgate.worker.process import EmbeddedWorkers

pytestmark = pytest.mark.slow  # real worker processes, started with spawn


def test_a_worker_that_keeps_dying_young_is_restarted_after_a_doubling_delay(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 1: each worker dies as it starts, on its first database call.
    broken = settings.model_copy(update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    caplog.set_level(logging.WARNING, logger="vidgate.worker")
    workers = EmbeddedWorkers(broken, 1)
    try:
        deadline = time.monotonic() + 40
        while len(restarts := re.findall(r"a new one starts in (\d+) s", caplog.text)) < 3:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.1)
    finally:
        workers.stop(timeout=2)
    assert restarts[:3] == ["1", "2", "4"]
    assert "exit code 1" in caplog.text
    assert not any(process.is_alive() for process in workers.processes)


def catches_sigterm(pid: int | None) -> bool:
    """Whether the process has a SIGTERM handler installed (bit 15 of SigCgt in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("when", ["running", "starting"])
def test_a_worker_asked_to_stop_is_not_replaced(settings: Settings, when: str) -> None:
    """SIGTERM to a running worker: it finishes the task in hand (none) and exits cleanly. To one
    still starting (a Ctrl-C as `serve` starts), it dies of the signal: a stop all the same."""
    workers = EmbeddedWorkers(settings, 1)
    (first,) = workers.processes
    deadline = time.monotonic() + 60
    while when == "running" and not catches_sigterm(first.pid):  # imports done, stop handler in place
        assert time.monotonic() < deadline and first.exitcode is None
        time.sleep(0.05)
    first.terminate()
    first.join(30)
    assert first.exitcode == (0 if when == "running" else -signal.SIGTERM)
    time.sleep(2.5)  # past the first restart delay (1 s for a worker that died young) and a round
    try:
        assert workers.processes == [first], "a stop is not a death"
    finally:
        workers.stop(timeout=2)
