"""The contract's task-result document: what `task-result` returns and what a webhook delivers.

One builder for both, outside the API package, so a webhook body is always the very document a
client would read, and the worker process (which sends webhooks) never depends on the API.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from vidgate.schemas import DebugInfo, ResultExtra, TaskInfo, TaskResult, Video
from vidgate.settings import Settings
from vidgate.storage.signing import signed_query
from vidgate.store.sql import SqlTaskStore, WorkAhead
from vidgate.tasks.model import TASK_TYPE, Task, TaskStatus

RESERVED_EXTRA_KEYS = frozenset(ResultExtra.model_fields)


@dataclass
class ResultDocuments:
    settings: Settings
    store: SqlTaskStore
    signing_secret: str

    def document(self, task: Task, base_url: str) -> TaskResult:
        """`base_url` is where clients reach the API; VIDGATE_PUBLIC_BASE_URL, when set, wins."""
        return self.documents([task], base_url)[0]

    def documents(self, listed: Sequence[Task], base_url: str) -> list[TaskResult]:
        """The documents of several tasks, with the queue's work ahead read once for all of them."""
        ahead = self.store.work_ahead([task for task in listed if task.status is TaskStatus.QUEUED])
        return [self._document(task, base_url, ahead.get(task.id)) for task in listed]

    def _document(self, task: Task, base_url: str, ahead: WorkAhead | None) -> TaskResult:
        videos = []
        # Retention deleted an expired task's video: the task stays, and says so.
        expired = {"expired": True} if task.expired_ms is not None else {}
        if task.status is TaskStatus.SUCCEED and task.output_key and not expired:
            ttl = self.settings.video_url_ttl
            base = (self.settings.public_base_url or base_url).rstrip("/")
            query = signed_query(self.signing_secret, task.output_key, ttl)
            videos.append(
                Video(video_url=f"{base}/v3/files/{quote(task.output_key)}?{query}", video_url_ttl=str(ttl))
            )
        return TaskResult(
            task=TaskInfo(
                task_id=task.id,
                status=task.status.wire,
                reason=task.reason,
                task_type=TASK_TYPE,
                eta=self._eta(task, ahead),
                progress_percent=task.progress,
            ),
            extra=ResultExtra(
                seed=str(task.params.seed),
                engine=task.engine,
                debug_info=DebugInfo(
                    request_info=json.dumps({"attempt": task.attempt}),
                    submit_time_ms=str(task.created_ms),
                    execute_time_ms=str(task.started_ms or 0),
                    complete_time_ms=str(task.completed_ms or 0),
                ),
                **{k: v for k, v in task.result_info.items() if k not in RESERVED_EXTRA_KEYS},
                **expired,
            ),
            videos=videos,
        )

    @staticmethod
    def _eta(task: Task, ahead: WorkAhead | None) -> int:
        """Queued: the work ahead shared among its engine's busy workers (at least one), then its own."""
        if task.status is not TaskStatus.QUEUED:
            return task.eta
        ahead = ahead or WorkAhead(0, 0)
        waiting_ms = ahead.estimate_ms / max(1, ahead.busy_workers)
        return math.ceil((waiting_ms + task.estimate_ms) / 1000)
