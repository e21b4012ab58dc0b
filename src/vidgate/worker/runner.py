"""The worker: claim a task, fetch its inputs, render it, publish the result, exactly once.

A claimed task is held by a lease that a heartbeat thread renews. If this process dies, the lease
expires and another worker claims the task again with attempt + 1. Every write after the claim is
fenced by our attempt number, so a worker that lost its lease (paused, partitioned, presumed dead)
cannot overwrite the newer attempt's result; it notices, deletes what it made, and moves on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from vidgate.engines import get_engine, spec
from vidgate.engines.base import AttemptLost, CancelCheck, Engine, ProgressCallback, RenderCancelled
from vidgate.errors import CANCELED, RENDER_FAILED, InvalidImageFormat, InvalidImageUrl, VidgateError
from vidgate.inputs.fetch import ImageFetcher, log_private_urls_allowed
from vidgate.inputs.images import STORED_PREFIX, input_key, load_stored, normalise, store_image
from vidgate.results import ResultDocuments
from vidgate.settings import Settings
from vidgate.storage import ObjectStore
from vidgate.store.database import is_unavailable
from vidgate.store.retention import STORE_TRIES, InputsGone
from vidgate.store.sql import SqlTaskStore
from vidgate.store.wakeup import WorkWaiter
from vidgate.store.workers import ANNOUNCE_INTERVAL_S
from vidgate.tasks.model import Task, TaskParams
from vidgate.tasks.offpeak import window_is_open
from vidgate.webhooks import TIMEOUT_S as WEBHOOK_TIMEOUT_S
from vidgate.webhooks import WebhookSender
from vidgate.worker.gc import collect_garbage
from vidgate.worker.jobs import build_render_job, load_images

log = logging.getLogger("vidgate.worker")
PROGRESS_INTERVAL_S = 0.5
INPUTS_SHARE = 0.05  # of the progress bar, for fetching inputs
# How often a busy worker reads whether its task was cancelled (a lease renewal reads it too).
CANCEL_POLL_S = 1.0
# How long a presigned input URL handed to an outside service (an upstream provider) stays valid.
INPUT_URL_TTL_S = 6 * 3600
# While the database is out of reach the loop waits between tries, doubling up to the longest.
OUTAGE_FIRST_WAIT_S, OUTAGE_LONGEST_WAIT_S = 0.1, 2.0


def video_key(task_id: str, attempt: int) -> str:
    # Keyed per attempt: a zombie attempt can never overwrite the file a newer attempt published.
    return f"videos/{task_id}-{attempt}.mp4"


class LeaseLost(AttemptLost):
    """Another attempt owns the task now; stop and throw away this attempt's work."""


class Heartbeat:
    """Renews the lease every third of its length; records loss of the lease and cancel requests."""

    def __init__(self, store: SqlTaskStore, task: Task, lease_seconds: float) -> None:
        self.store, self.task, self.lease_seconds = store, task, lease_seconds
        self.lost = threading.Event()
        self.cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{task.id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        beat = self.lease_seconds / 3
        renew_at = time.monotonic() + beat
        # Between renewals, a read each CANCEL_POLL_S: a cancel stops a render within about a second.
        while not self._stop.wait(min(beat, CANCEL_POLL_S)):
            try:
                if time.monotonic() >= renew_at:
                    state = self.store.renew_lease(self.task.id, self.task.attempt, self.lease_seconds)
                    renew_at = time.monotonic() + beat
                else:
                    state = self.store.attempt_state(self.task.id, self.task.attempt)
            except Exception as exc:  # a database blip: try again next time, the lease has slack for it
                log.warning("heartbeat for %s failed", self.task.id, exc_info=not is_unavailable(exc))
                continue
            if not state.owned:
                self.lost.set()
                return
            if state.cancel_requested:
                self.cancelled.set()


class TaskState:
    """`EngineState` for one attempt: what its engine saves is written to the task row, fenced by
    the attempt, so that the task's next attempt starts from it."""

    def __init__(self, store: SqlTaskStore, task: Task, heartbeat: Heartbeat) -> None:
        self.store, self.task, self.heartbeat = store, task, heartbeat
        self._values = dict(task.engine_state)
        self.public: dict[str, Any] = {}  # merged into the task's `extra`, kept for its final notes

    def saved(self) -> dict[str, Any]:
        return dict(self._values)

    def save(self, values: Mapping[str, Any], public: Mapping[str, Any] | None = None) -> None:
        if not self.store.save_engine_state(self.task.id, self.task.attempt, values, public or {}):
            self.heartbeat.lost.set()
            raise LeaseLost
        self._values.update(values)
        self.public.update(public or {})

    def pushed(self) -> dict[str, Any] | None:
        return self.store.engine_event(self.task.id)


class Worker:
    def __init__(
        self,
        settings: Settings,
        store: SqlTaskStore,
        objects: ObjectStore,
        engine: Engine | None = None,
        *,
        engines: Sequence[str] | None = None,
        progress_interval_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        """Runs the tasks of `engines` (default: the settings' `engines_to_run`), each loaded once
        here and kept warm; `engine`, when given, runs the tasks of all of them (tests bring theirs)."""
        self.settings, self.store, self.objects = settings, store, objects
        names = list(engines or settings.engines_to_run())
        self.engines = {name: engine or get_engine(name, settings) for name in names}
        limits = {name: spec(name).limits(settings) for name in self.engines}
        self.caps = {name: cap.max_running for name, cap in limits.items() if cap.max_running is not None}
        self.fetcher = ImageFetcher(settings)  # tests swap in one with a stub resolver
        self.progress_interval_s = progress_interval_s  # the least time between two progress writes
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.work_dir = settings.data_dir / "work"
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def run(self, stop: threading.Event) -> None:
        """Claim and run tasks until `stop` is set; the task in hand is finished first."""
        log.info("worker %s started (engines %s)", self.worker_id, ", ".join(self.engines))
        log_private_urls_allowed(self.settings)
        # Expired leases announce themselves to no one: look for them at least every sweep.
        waiter = WorkWaiter(self.store.engine, self.settings.poll_interval, self.settings.sweep_interval)
        helpers = [
            threading.Thread(target=self._webhook_sender().run, args=(stop,), name="webhooks", daemon=True),
            threading.Thread(target=self._announce, args=(stop,), name="presence", daemon=True),
        ]
        for thread in helpers:
            thread.start()
        try:
            self._loop(stop, waiter)
        finally:
            waiter.close()
            for thread in helpers:
                thread.join(timeout=WEBHOOK_TIMEOUT_S + 1)
            self.close()

    def close(self) -> None:
        """Release what the engines hold (an upstream client's connections, a model's memory)."""
        for engine in set(self.engines.values()):
            if callable(close := getattr(engine, "close", None)):
                close()

    def _announce(self, stop: threading.Event) -> None:
        """Keep this worker's row in the registry fresh, so the API knows its engines are served;
        the row goes when this thread ends, after its last announcement (never before it)."""
        while not stop.is_set():
            try:
                self.store.workers.announce(self.worker_id, list(self.engines))
            except Exception as exc:  # a database blip: the next announcement comes soon enough
                log.warning("worker announcement failed", exc_info=not is_unavailable(exc))
            stop.wait(ANNOUNCE_INTERVAL_S)
        with contextlib.suppress(Exception):
            self.store.workers.leave(self.worker_id)

    def _webhook_sender(self) -> WebhookSender:
        """Delivers webhooks of ended tasks, whichever process ended them, beside the render loop."""
        s = self.settings
        results = ResultDocuments(s, self.store, s.resolved_signing_secret())
        # Video links in webhooks use VIDGATE_PUBLIC_BASE_URL, else the URL the task was submitted to.
        secret = s.resolved_webhook_secret()
        return WebhookSender(self.store, results, self.fetcher, secret, s.public_base_url)

    def _loop(self, stop: threading.Event, waiter: WorkWaiter) -> None:
        next_sweep = 0.0
        outage_wait = 0.0  # > 0 while the database is out of reach: the wait before the next try
        while not stop.is_set():
            if time.monotonic() >= next_sweep:
                try:
                    self.sweep()
                except Exception:  # a database or storage blip: the next sweep tries again
                    log.warning("sweep failed", exc_info=True)
                next_sweep = time.monotonic() + self.settings.sweep_interval
            try:
                worked = self.run_once()
            except Exception as exc:
                if is_unavailable(exc):
                    if not outage_wait:  # one line per outage, not a traceback per try
                        log.warning("database unreachable (%s); retrying until back", type(exc).__name__)
                    outage_wait = min(OUTAGE_LONGEST_WAIT_S, max(OUTAGE_FIRST_WAIT_S, 2 * outage_wait))
                    stop.wait(outage_wait)
                    continue
                log.exception("worker loop error")
                worked = False
            if outage_wait:
                log.info("database reachable again")
                outage_wait = 0.0
            if not worked:
                waiter.wait(stop)

    def sweep(self) -> None:
        """Fail the tasks whose last attempt's worker died (or whose deadline passed), and remove what
        that attempt left: no later attempt of the task will come to clean up after it. Then delete
        what outlived VIDGATE_RETENTION (one batch; the next sweep takes the rest)."""
        deadline_s = self.settings.off_peak_deadline_hours * 3600
        for task_id, attempt in self.store.sweeper.sweep(off_peak_deadline_s=deadline_s):
            self._remove_earlier_attempts(task_id, attempt + 1)
        self.store.workers.forget_gone()
        if (retention_s := self.settings.retention_seconds()) is not None:
            collect_garbage(self.store, self.objects, retention_s)

    def run_once(self) -> bool:
        task = self.store.claim(
            self.worker_id,
            self.settings.lease_seconds,
            engines=list(self.engines),
            caps=self.caps,
            off_peak_window_open=window_is_open(self.settings.off_peak_window, datetime.now().time()),
            off_peak_deadline_s=self.settings.off_peak_deadline_hours * 3600,
        )
        if task is None:
            return False
        log.info("claimed %s (attempt %d)", task.id, task.attempt)
        with Heartbeat(self.store, task, self.settings.lease_seconds) as heartbeat:
            self.run_task(task, heartbeat)
        return True

    def run_task(self, task: Task, heartbeat: Heartbeat) -> None:
        """Run one claimed task under `heartbeat`, which holds its lease (`run_once` claims and beats;
        a test hands in a heartbeat that does not beat in time, as a paused process's would)."""
        output = self.work_dir / f"{task.id}-{task.attempt}.mp4"
        key = video_key(task.id, task.attempt)
        engine = self.engines[task.engine]
        state = TaskState(self.store, task, heartbeat)
        self._remove_earlier_attempts(task.id, task.attempt)
        try:
            images, refs = self._load_inputs(task, engine)
            job, sound_info = build_render_job(
                task.params,
                images,
                output,
                self.settings,
                task.engine,
                task_id=task.id,
                image_urls=self._public_urls(refs),
                state=state,
            )
            result = engine.render(
                job, self._progress_reporter(task, heartbeat), self._cancel_check(heartbeat)
            )
            if heartbeat.lost.is_set():
                raise LeaseLost
            self.objects.put_file(key, result.path)
            info = (
                task.result_info
                | state.public
                | {
                    "engine": task.engine,
                    "width": result.width,
                    "height": result.height,
                    **sound_info,
                    **result.info,
                }
            )
            if not self._publish(task, key, info, heartbeat):
                self.objects.delete(key)  # not published: it must not linger
                if self.store.attempt_state(task.id, task.attempt).cancel_requested:
                    raise RenderCancelled("cancelled as the render finished")
                raise LeaseLost  # a newer attempt owns the task
            log.info("task %s done", task.id)
        except LeaseLost:
            log.warning("task %s: lease lost, attempt %d abandoned", task.id, task.attempt)
        except RenderCancelled as exc:
            notes = task.result_info | state.public | exc.info if exc.info else None
            self.store.fail(task.id, task.attempt, CANCELED, notes)
        except VidgateError as exc:  # images, engines and providers name their reasons alike
            self.store.fail(task.id, task.attempt, f"{exc.reason}: {exc.message}")
        except Exception as exc:
            if is_unavailable(exc):  # nothing can be written now: the lease runs out, and another
                # attempt (or the sweeper) takes the task and removes what this one left
                log.warning("task %s attempt %d: database unreachable, left to expire", task.id, task.attempt)
                return
            log.exception("task %s attempt %d failed", task.id, task.attempt)
            if task.attempt >= task.max_attempts:
                self.store.fail(task.id, task.attempt, f"{RENDER_FAILED}: the render failed; please retry.")
            else:
                self.store.release(task.id, task.attempt)
        finally:
            output.unlink(missing_ok=True)

    def _publish(self, task: Task, key: str, info: dict[str, Any], heartbeat: Heartbeat) -> bool:
        """`store.complete`, waiting out a database outage for as long as the lease could still hold:
        a finished render is not thrown away for a restart of the database. A write that raised may
        still have committed (the connection cut after the commit), so a refusal after one is checked
        against the row before the video is deleted."""
        gives_up_at = time.monotonic() + self.settings.lease_seconds
        wait, tried_before = OUTAGE_FIRST_WAIT_S, False
        while True:
            try:
                if self.store.complete(task.id, task.attempt, key, info):
                    return True
                current = self.store.get_task(task.id) if tried_before else None
                return current is not None and current.output_key == key
            except Exception as exc:
                out_of_time = time.monotonic() + wait > gives_up_at
                if not is_unavailable(exc) or out_of_time or heartbeat.lost.is_set():
                    raise
                if not tried_before:
                    log.warning("task %s: database unreachable at publish; retrying", task.id)
                tried_before = True
                time.sleep(wait)
                wait = min(OUTAGE_LONGEST_WAIT_S, 2 * wait)

    def _public_urls(self, refs: list[str]) -> tuple[str, ...]:
        """Presigned URLs of the stored inputs, for an engine that hands them to an outside service;
        empty when the storage cannot presign (a local folder) or anything is missing."""
        urls = [
            self.objects.download_url(input_key(ref.removeprefix(STORED_PREFIX)), INPUT_URL_TTL_S)
            for ref in refs
        ]
        return tuple(url for url in urls if url) if all(urls) else ()

    def _remove_earlier_attempts(self, task_id: str, attempt: int) -> None:
        """The attempts before `attempt` ended with their worker dead or its lease lost: whatever they
        left (a partial encode, an unpublished upload) is ours to clean, so a crash leaves no orphan
        files behind."""
        for earlier in range(1, attempt):
            self.objects.delete(video_key(task_id, earlier))
        for leftover in [*self.work_dir.glob(f"{task_id}-*"), *self.work_dir.glob(f".{task_id}-*")]:
            leftover.unlink(missing_ok=True)

    def _load_inputs(self, task: Task, engine: Engine) -> tuple[list[np.ndarray], list[str]]:
        """Fetch URL inputs once, keep them by hash, and record that so a retry reads the stored copy;
        the images as the engine reads them, and their stored references."""
        params = task.params
        fetched = {
            i: self._fetch(ref, i) for i, ref in enumerate(params.images) if not ref.startswith(STORED_PREFIX)
        }
        refs = [fetched[i][0] if i in fetched else ref for i, ref in enumerate(params.images)]
        if fetched and not self._record_fetched(task, replace(params, images=refs), list(fetched.values())):
            raise LeaseLost
        loaders = [functools.partial(load_stored, self.objects, ref) for ref in refs]
        return load_images(params, loaders, engine), refs

    def _record_fetched(self, task: Task, params: TaskParams, stored: list[tuple[str, bytes]]) -> bool:
        """Record the fetched inputs on the task (fenced); when retention took one between its store
        and this record (see store/retention.py), store it again and retry."""
        digests = [ref.removeprefix(STORED_PREFIX) for ref, _png in stored]
        for _ in range(STORE_TRIES - 1):
            try:
                return self.store.set_params(task.id, task.attempt, params, digests)
            except InputsGone:
                for _ref, png in stored:
                    store_image(self.objects, png, self.store.retention.register_input)
        return self.store.set_params(task.id, task.attempt, params, digests)

    def _fetch(self, url: str, index: int) -> tuple[str, bytes]:
        """The stored reference of a fetched image, and its normalised bytes."""
        s = self.settings
        data = self.fetcher.fetch(url, index)
        try:
            png = normalise(data, index, s.max_image_bytes, s.max_image_pixels)
        except InvalidImageFormat:
            raise InvalidImageUrl(
                f"images[{index}]: the URL did not return a PNG, JPEG or WebP image."
            ) from None
        return store_image(self.objects, png, self.store.retention.register_input), png

    def _progress_reporter(self, task: Task, heartbeat: Heartbeat) -> ProgressCallback:
        started = time.monotonic()
        last_sent = 0.0

        def report(fraction: float) -> None:
            nonlocal last_sent
            now = time.monotonic()
            if now - last_sent < self.progress_interval_s or heartbeat.lost.is_set():
                return
            last_sent = now
            elapsed = now - started
            eta = round(elapsed / fraction * (1 - fraction)) if fraction > 0.01 else 0
            percent = min(99, int(100 * (INPUTS_SHARE + (1 - INPUTS_SHARE) * fraction)))
            try:
                owned = self.store.set_progress(task.id, task.attempt, percent, eta)
            except Exception as exc:  # a database blip must not abort the render; the next report retries
                log.warning("progress of %s not recorded", task.id, exc_info=not is_unavailable(exc))
                return
            if not owned:
                heartbeat.lost.set()

        return report

    @staticmethod
    def _cancel_check(heartbeat: Heartbeat) -> CancelCheck:
        # Losing the lease also stops the render: its result could never be published.
        return lambda: heartbeat.cancelled.is_set() or heartbeat.lost.is_set()
