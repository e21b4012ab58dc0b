"""The vidu engine: a task rendered by the official Vidu API, with vidgate as the gateway in front.

One render: find or create the upstream task, follow it (polling with backoff; a signed callback
pushed to the API only makes the next poll come sooner), then copy the finished video into the job's
output, check it and tag it.

Exactly once upstream. The upstream task id is saved (`job.state.save`) the moment the provider
answers, so a later attempt of the same task (a worker killed while waiting) resumes that upstream
task instead of creating another. Before sending a create, the engine saves `create_started`. The
one window that could pay twice is a worker killed after the provider created the task and before
its id was saved (or a create whose answer never came): the next attempt then finds
`create_started` without an id. It looks for the id in the provider's last callback (whose
`payload` names our task); failing that it does NOT create again, but fails the task with
`UPSTREAM_CREATE_UNCERTAIN`, counts it (`UNCERTAIN_CREATES`, and `extra.upstream_create_uncertain`
for the store's metrics), and says which payload to look for at the provider.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from vidgate import errors
from vidgate.engines.base import (
    AttemptLost,
    CancelCheck,
    ProgressCallback,
    RenderCancelled,
    RenderError,
    RenderJob,
    RenderResult,
)
from vidgate.engines.vidu.api import (
    Creation,
    TaskView,
    UpstreamFailure,
    ViduClient,
    failed_task,
    upstream_id,
)
from vidgate.engines.vidu.request import create_request
from vidgate.engines.vidu.video import VideoDownloader, VideoUrlExpired, add_tags, inspect_video
from vidgate.settings import Settings

log = logging.getLogger("vidgate.engines.vidu")

# How often a wait between polls looks at cancel requests and pushed callbacks.
WAKE_CHECK_S = 0.25
STATE_ORDER = {"created": 0, "queueing": 1, "processing": 2, "success": 3, "failed": 3}
# Share of the progress bar reached at each upstream state; processing rises toward PROCESSING_END.
STATE_PROGRESS = {"created": 0.03, "queueing": 0.06, "processing": 0.10, "success": 0.88, "failed": 0.88}
PROCESSING_END = 0.85
DOWNLOAD_END = 0.97
MAY_FINISH = "the provider may finish it; its credits are spent"
REFUSED_CANCEL = f"refused: {MAY_FINISH}"


class Counter:
    """A process-wide count, for metrics without a metrics library here."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def increment(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        return self._value


# Tasks this process refused to create again because an earlier create's outcome was unknown.
UNCERTAIN_CREATES = Counter()


class UpstreamProgress:
    """Progress that rises through the upstream states, and keeps rising while the provider renders
    (toward PROCESSING_END, half-way after `expected_s`), so the worker's ETA stays sensible."""

    def __init__(self, report: ProgressCallback, expected_s: float, clock: Callable[[], float]) -> None:
        self._report, self._expected_s, self._clock = report, expected_s, clock
        self._fraction = 0.0
        self._processing_since: float | None = None

    def state(self, state: str) -> None:
        if state == "processing" and self._processing_since is None:
            self._processing_since = self._clock()
        self.set(STATE_PROGRESS.get(state, 0.0))
        self.tick()

    def tick(self) -> None:
        if self._processing_since is not None:
            spent = self._clock() - self._processing_since
            share = spent / (spent + self._expected_s)
            self.set(STATE_PROGRESS["processing"] + (PROCESSING_END - STATE_PROGRESS["processing"]) * share)

    def downloading(self, fraction: float) -> None:
        self.set(STATE_PROGRESS["success"] + (DOWNLOAD_END - STATE_PROGRESS["success"]) * fraction)

    def set(self, fraction: float) -> None:
        if fraction > self._fraction:
            self._fraction = fraction
            self._report(fraction)


class ViduEngine:
    name = "vidu"

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        downloader: VideoDownloader | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.client = ViduClient(settings, transport=transport, sleep=sleep)
        self.downloader = downloader or VideoDownloader(settings)
        self._clock, self._sleep = clock, sleep

    def close(self) -> None:
        self.client.close()
        self.downloader.close()

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        progress = UpstreamProgress(on_progress, self.settings.vidu_expected_render_seconds, self._clock)
        if should_cancel():
            resumed = job.state.saved().get("upstream_task_id")
            if resumed:  # a retried attempt cancelled before it followed the task: cancel it upstream
                self._cancel(job, str(resumed))
            raise RenderCancelled("cancelled before the upstream task was created")
        task_id = self._upstream_task(job)
        view = self._wait(job, task_id, progress, should_cancel)
        if view.state == "failed":
            raise failed_task(view)
        self._copy(job, task_id, view, progress)
        facts = inspect_video(job.output_path)
        add_tags(job.output_path, job.metadata)
        progress.set(1.0)
        return RenderResult(job.output_path, facts.width, facts.height, facts.frames, facts.fps)

    # Exactly once: resume, or create with the window guarded.

    def _upstream_task(self, job: RenderJob) -> str:
        saved = job.state.saved()
        if saved.get("upstream_task_id"):
            task_id = str(saved["upstream_task_id"])
            log.info("task %s: resuming upstream task %s", job.task_id, task_id)
            return task_id
        if saved.get("create_started"):
            adopted = _announced_task(job.state.pushed(), job.task_id)
            if adopted is not None:
                log.info("task %s: upstream task %s found in its callback", job.task_id, adopted[0])
                self._record(job, *adopted)
                return adopted[0]
            self._uncertain(job)
            raise RenderError(
                errors.UPSTREAM_CREATE_UNCERTAIN,
                "an earlier attempt was stopped while creating the upstream task, before its id was "
                "recorded; it may exist at the provider (its payload is this task's id), so it is not "
                "created again (that could pay twice). Submit the task again to retry.",
            )
        endpoint, body = create_request(job, self.settings)
        job.state.save({"create_started": True})
        try:
            created = self.client.create(endpoint, body)
        except UpstreamFailure as exc:
            if not exc.maybe_created:  # the provider said no: nothing exists upstream
                job.state.save({"create_started": False})
                raise
            adopted = self._await_announcement(job)
            if adopted is None:
                self._uncertain(job)
                raise
            log.info("task %s: upstream task %s found in its callback", job.task_id, adopted[0])
            self._record(job, *adopted)
            return adopted[0]
        self._record(job, created.task_id, created.credits)
        log.info("task %s: created upstream task %s", job.task_id, created.task_id)
        return created.task_id

    def _record(self, job: RenderJob, task_id: str, credits: int | None) -> None:
        job.state.save(
            {"upstream_task_id": task_id},
            public={"provider_request_id": task_id, "upstream": self._upstream_info(credits)},
        )

    def _upstream_info(self, credits: int | None) -> dict[str, Any]:
        return {"model": self.settings.vidu_model, "credits": credits}

    def _await_announcement(self, job: RenderJob) -> tuple[str, int | None] | None:
        """After a create whose answer never came: the upstream task named by the provider's callback,
        if one comes within two of the longest poll intervals (only when callbacks are asked for)."""
        if not self.settings.public_base_url:
            return None
        until = self._clock() + 2 * self.settings.vidu_poll_max_interval
        while (adopted := _announced_task(job.state.pushed(), job.task_id)) is None and self._clock() < until:
            self._sleep(min(WAKE_CHECK_S, max(0.0, until - self._clock())))
        return adopted

    @staticmethod
    def _uncertain(job: RenderJob) -> None:
        UNCERTAIN_CREATES.increment()
        log.warning("task %s: upstream create uncertain; not creating again", job.task_id)
        job.state.save({}, public={"upstream_create_uncertain": True})

    # Following the upstream task.

    def _wait(
        self, job: RenderJob, task_id: str, progress: UpstreamProgress, should_cancel: CancelCheck
    ) -> TaskView:
        s = self.settings
        max_wait = s.vidu_max_wait
        if job.params is not None and job.params.off_peak:
            max_wait = max(max_wait, s.off_peak_deadline_hours * 3600)
        deadline = self._clock() + max_wait
        interval = s.vidu_poll_interval
        last_state, credits = "", None
        while True:
            if should_cancel():
                self._cancel(job, task_id)
            try:
                view = self.client.task(task_id)
            except UpstreamFailure as exc:
                if not exc.transient:
                    raise
                log.warning("task %s: polling upstream %s failed (%s); polling on", job.task_id, task_id, exc)
            else:
                if view.credits is not None and view.credits != credits:
                    credits = view.credits
                    job.state.save({}, public={"upstream": self._upstream_info(credits)})
                progress.state(view.state)
                if view.state in ("success", "failed"):
                    return view
                if view.state != last_state:
                    interval, last_state = s.vidu_poll_interval, view.state
            if self._clock() >= deadline:
                self._give_up(job, task_id, max_wait)
            self._pause(
                job, min(interval, max(0.0, deadline - self._clock())), last_state, progress, should_cancel
            )
            interval = min(interval * s.vidu_poll_backoff, s.vidu_poll_max_interval)

    def _pause(
        self,
        job: RenderJob,
        seconds: float,
        last_state: str,
        progress: UpstreamProgress,
        should_cancel: CancelCheck,
    ) -> None:
        """Wait for the next poll; cut short by a cancel, or by a callback showing a newer state."""
        until = self._clock() + seconds
        while (left := until - self._clock()) > 0:
            self._sleep(min(WAKE_CHECK_S, left))
            progress.tick()
            if should_cancel() or _newer(job.state.pushed(), last_state):
                return

    def _give_up(self, job: RenderJob, task_id: str, max_wait: float) -> None:
        try:
            self.client.cancel(task_id)  # stop it spending credits on a result nobody will get
        except UpstreamFailure:
            log.warning("task %s: cancelling upstream task %s after the wait failed", job.task_id, task_id)
        raise RenderError(
            errors.UPSTREAM_TIMEOUT,
            f"the provider did not finish upstream task {task_id} within {max_wait:.0f} s.",
        )

    def _cancel(self, job: RenderJob, task_id: str) -> None:
        """Cancel upstream and raise `RenderCancelled`; `should_cancel()` is also true when this attempt
        lost its lease, and then the upstream task belongs to the next attempt and must live on."""
        try:
            job.state.save({"cancel_requested": True})  # raises AttemptLost when this attempt lost the task
        except AttemptLost:
            raise RenderCancelled("this attempt lost the task", info={}) from None
        try:
            cancelled = self.client.cancel(task_id)
        except UpstreamFailure as exc:
            raise RenderCancelled(
                "the provider's cancel failed",
                info={"upstream_cancel": f"failed ({exc.reason}): {MAY_FINISH}"},
            ) from None
        if cancelled:
            raise RenderCancelled("cancelled at the provider", info={"upstream_cancel": "cancelled"})
        raise RenderCancelled("the provider refused to cancel", info={"upstream_cancel": REFUSED_CANCEL})

    # The finished video.

    def _copy(self, job: RenderJob, task_id: str, view: TaskView, progress: UpstreamProgress) -> None:
        """Download the video; an expired URL is asked for again once (the provider signs fresh ones)."""
        for attempt in range(2):
            url = _video_url(view.creations[0], job)
            try:
                self.downloader.download(url, job.output_path, progress.downloading)
                return
            except VideoUrlExpired:
                if attempt == 1:
                    raise
                log.info("task %s: video URL of %s expired; asking for a fresh one", job.task_id, task_id)
                view = self.client.task(task_id)
                if view.state != "success":
                    raise RenderError(
                        errors.UPSTREAM_BAD_RESPONSE, f"upstream task {task_id} is no longer a success."
                    ) from None


def _video_url(creation: Creation, job: RenderJob) -> str:
    watermarked = job.params.watermark if job.params else job.frame_filter is not None
    if watermarked and creation.watermarked_url:
        return creation.watermarked_url
    return creation.url or creation.watermarked_url


def _newer(pushed: Mapping[str, Any] | None, last_state: str) -> bool:
    if not pushed or not isinstance(pushed.get("state"), str):
        return False
    return STATE_ORDER.get(pushed["state"], -1) > STATE_ORDER.get(last_state, -1)


def _announced_task(pushed: Mapping[str, Any] | None, task_id: str) -> tuple[str, int | None] | None:
    """The upstream id in the provider's last callback, if that callback is about this task."""
    if not pushed or not task_id or pushed.get("payload") != task_id:
        return None
    upstream = upstream_id(pushed.get("id") or pushed.get("task_id"))
    if upstream is None:
        return None
    credits = pushed.get("credits")
    return upstream, credits if isinstance(credits, int) and not isinstance(credits, bool) else None
