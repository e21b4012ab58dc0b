"""The contract's task-result document: what `task-result` returns and what a webhook delivers.

One builder for both, outside the API package, so a webhook body is always the very document a
client would read, and the worker process (which sends webhooks) never depends on the API.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from urllib.parse import quote

from vidgate.schemas import DebugInfo, ResultExtra, TaskInfo, TaskResult, Video
from vidgate.settings import Settings
from vidgate.storage.signing import signed_query
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import TASK_TYPE, Task, TaskStatus

RESERVED_EXTRA_KEYS = frozenset(ResultExtra.model_fields)


@dataclass
class ResultDocuments:
    settings: Settings
    store: SqlTaskStore
    signing_secret: str

    def document(self, task: Task, base_url: str) -> TaskResult:
        """`base_url` is where clients reach the API; VIDGATE_PUBLIC_BASE_URL, when set, wins."""
        videos = []
        if task.status is TaskStatus.SUCCEED and task.output_key:
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
                eta=self._eta(task),
                progress_percent=task.progress,
            ),
            extra=ResultExtra(
                seed=str(task.params.seed),
                debug_info=DebugInfo(
                    request_info=json.dumps({"attempt": task.attempt}),
                    submit_time_ms=str(task.created_ms),
                    execute_time_ms=str(task.started_ms or 0),
                    complete_time_ms=str(task.completed_ms or 0),
                ),
                **{k: v for k, v in task.result_info.items() if k not in RESERVED_EXTRA_KEYS},
            ),
            videos=videos,
        )

    def _eta(self, task: Task) -> int:
        """Queued: the work ahead shared among the workers now busy (at least one), then its own."""
        if task.status is not TaskStatus.QUEUED:
            return task.eta
        ahead = self.store.work_ahead(task)
        waiting_ms = ahead.estimate_ms / max(1, ahead.busy_workers)
        return math.ceil((waiting_ms + task.params.render_estimate_ms) / 1000)
