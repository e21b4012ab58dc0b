"""Running workers as processes: `vidgate worker`, and the embedded workers of `vidgate serve`."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing.process import BaseProcess

from vidgate.settings import Settings
from vidgate.storage import open_store
from vidgate.store.db import open_task_store
from vidgate.worker.runner import Worker

log = logging.getLogger("vidgate.worker")
ORPHAN_CHECK_S = 0.5
# How often `vidgate serve` checks on its embedded workers, and how it restarts a dead one: at once
# if it had run a while, else after a delay that doubles up to a limit.
SUPERVISE_INTERVAL_S = 0.5
STABLE_AFTER_S = 30.0
MAX_RESTART_DELAY_S = 60.0
# Exit codes of a worker that was asked to stop: a clean exit, or a second Ctrl-C or SIGTERM (the
# first one's handler restores the default action, which ends the process by that signal).
STOPPED = frozenset({0, -signal.SIGINT, -signal.SIGTERM})


def build_worker(settings: Settings) -> Worker:
    return Worker(settings, open_task_store(settings.resolved_database_url()), open_store(settings))


def run_worker_until_signalled(settings: Settings, parent_pid: int | None = None) -> None:
    """Work until SIGTERM/SIGINT, or until the parent process (`parent_pid`) is gone; the task in
    hand is finished first (a second signal kills)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing the current task, then stopping", signum)
        stop.set()
        signal.signal(signum, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if parent_pid is not None:
        threading.Thread(target=_stop_when_orphaned, args=(parent_pid, stop), daemon=True).start()
    build_worker(settings).run(stop)


def _stop_when_orphaned(parent_pid: int, stop: threading.Event) -> None:
    """An embedded worker must not outlive `vidgate serve`, however the server ended (uvicorn
    re-raises SIGTERM after its graceful shutdown, and SIGKILL runs no clean-up at all)."""
    while not stop.wait(ORPHAN_CHECK_S):
        if os.getppid() != parent_pid:
            log.info("parent process %d is gone: finishing the current task, then stopping", parent_pid)
            stop.set()


class EmbeddedWorkers:
    """The worker processes of `vidgate serve`, kept at their number. Processes, not threads, so
    rendering never competes with the API's event loop for the GIL.

    One that dies of a crash or a kill (kill -9, the kernel's out-of-memory killer, an error at
    start) is replaced within a second, so the machine keeps working and the dead worker's task is
    taken up again once its lease runs out. One that exits cleanly, or by SIGINT or SIGTERM, was
    asked to stop (Ctrl-C reaches the whole process group) and is not replaced. A slot whose worker
    keeps dying young is restarted with a doubling delay, so a broken configuration does not spin."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._processes = [self._start(index) for index in range(count)]
        self._started_at = [time.monotonic()] * count
        self._delays = [0.0] * count  # the next restart's delay, per slot
        self._restart_after: dict[int, float] = {}  # slot -> monotonic time it may restart
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="vidgate-supervisor", daemon=True)
        if count:
            self._supervisor.start()

    @property
    def processes(self) -> list[BaseProcess]:
        return list(self._processes)

    def _start(self, index: int) -> BaseProcess:
        process = self._context.Process(
            target=run_worker_until_signalled,
            args=(self._settings, os.getpid()),
            name=f"vidgate-worker-{index}",
            daemon=True,
        )
        process.start()
        return process

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_INTERVAL_S):
            for index, process in enumerate(self._processes):
                if process.is_alive() or process.exitcode in STOPPED:
                    continue
                self._replace(index, process)

    def _replace(self, index: int, dead: BaseProcess) -> None:
        now = time.monotonic()
        if index not in self._restart_after:  # first seen dead: decide when to restart it
            lived = now - self._started_at[index]
            self._delays[index] = 0.0 if lived >= STABLE_AFTER_S else max(1.0, 2 * self._delays[index])
            self._delays[index] = min(self._delays[index], MAX_RESTART_DELAY_S)
            self._restart_after[index] = now + self._delays[index]
            log.warning(
                "embedded worker %d (pid %s) ended with exit code %s; a new one starts in %.0f s",
                index, dead.pid, dead.exitcode, self._delays[index],
            )  # fmt: skip
        if now < self._restart_after[index] or self._stopping.is_set():
            return
        del self._restart_after[index]
        self._processes[index] = self._start(index)
        self._started_at[index] = time.monotonic()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to finish its task and stop; kill those still busy after `timeout`."""
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():  # a long render; its lease will hand the task to another worker
                process.kill()
                process.join()
