"""Upstream providers' callbacks: an engine that gateways to a provider learns of a state change at
once instead of at its next poll. A callback is a hint, never the truth: the engine still reads the
task's state from the provider itself."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from vidgate.api.deps import TaskIdQuery, services
from vidgate.engines.vidu.callback import CALLBACK_PATH

router = APIRouter()


@router.post(CALLBACK_PATH, include_in_schema=False)
async def vidu_callback(request: Request, task_id: TaskIdQuery) -> dict[str, bool]:
    """Signed by the provider with the account's API key (a bad signature is a 401 and changes
    nothing); recorded for the task's worker. `recorded` is false for a task that has ended."""
    body = await request.body()
    recorded = await run_in_threadpool(
        services(request).record_vidu_callback,
        task_id, dict(request.headers), request.url.path, request.url.query, body,
    )  # fmt: skip
    return {"recorded": recorded}
