"""Running workers as processes: `vidgate worker`, and the embedded workers of `vidgate serve`."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess

from vidgate.settings import Settings
from vidgate.storage import open_store
from vidgate.store.db import open_task_store
from vidgate.worker.runner import Worker

log = logging.getLogger("vidgate.worker")
ORPHAN_CHECK_S = 0.5


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


def start_embedded_workers(settings: Settings, count: int) -> list[BaseProcess]:
    """Child processes, so rendering never competes with the API's event loop for the GIL."""
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = []
    for index in range(count):
        process = context.Process(
            target=run_worker_until_signalled,
            args=(settings, os.getpid()),
            name=f"vidgate-worker-{index}",
            daemon=True,
        )
        process.start()
        processes.append(process)
    return processes


def stop_embedded_workers(processes: list[BaseProcess], timeout: float = 10.0) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout)
        if process.is_alive():  # a long render; its lease will hand the task to another worker
            process.kill()
            process.join()
