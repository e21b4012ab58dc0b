"""Retention's pass: delete the videos and stored inputs older than `VIDGATE_RETENTION`.

Workers run one bounded pass in each sweep (worker/runner.py); `vidgate gc` runs passes by hand until
nothing is left. Deciding what may go, and deleting each thing once however many workers sweep, is
the store's (store/retention.py); this module only pairs each decision with its object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from vidgate.clock import now_ms
from vidgate.inputs.images import input_key
from vidgate.storage import ObjectStore
from vidgate.store.retention import BATCH
from vidgate.store.sql import SqlTaskStore

log = logging.getLogger("vidgate.gc")


@dataclass
class GcReport:
    dry_run: bool
    videos: int = 0
    inputs: int = 0
    bytes: int = 0
    keys: list[str] = field(default_factory=list)  # what was deleted (or would be, in a dry run)

    def add(self, key: str, size: int, *, video: bool) -> None:
        self.videos += video
        self.inputs += not video
        self.bytes += size
        self.keys.append(key)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return f"{verb} {self.videos} videos and {self.inputs} inputs, {self.bytes} bytes"


def collect_garbage(
    store: SqlTaskStore, objects: ObjectStore, retention_s: float, *, dry_run: bool = False, passes: int = 1
) -> GcReport:
    """Up to `passes` batches of each kind (a dry run looks at everything once)."""
    report = GcReport(dry_run)
    cutoff_ms = now_ms() - int(retention_s * 1000)
    limit = None if dry_run else BATCH
    for _ in range(1 if dry_run else passes):
        videos = store.retention.expired_videos(cutoff_ms, limit)
        for video in videos:
            key, size = video.key or "", objects.size(video.key or "") or 0
            if dry_run or store.retention.expire_video(
                video.task_id or "", cutoff_ms, _deleter(objects, key)
            ):
                report.add(key, size, video=True)
        inputs = store.retention.expired_inputs(cutoff_ms, limit)
        for expired in inputs:
            digest = expired.digest or ""
            key = input_key(digest)
            if dry_run or store.retention.delete_input(digest, cutoff_ms, _deleter(objects, key)):
                report.add(key, expired.size_bytes or 0, video=False)
        if len(videos) < BATCH and len(inputs) < BATCH:
            break
    if report.keys and not dry_run:
        log.info("retention: %s", report.summary())
    return report


def _deleter(objects: ObjectStore, key: str) -> Callable[[], None]:
    return lambda: objects.delete(key)
