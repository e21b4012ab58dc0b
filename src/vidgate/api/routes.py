"""HTTP routes: parse, authenticate, call the service, shape the answer. No logic lives here.

Routes are plain `def`s: FastAPI runs them in its thread pool, so blocking database and image work
never stalls the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from vidgate import clock
from vidgate.api.deps import GET_AND_HEAD, KEYED, ON_A_TASK, Key, TaskIdQuery, services
from vidgate.api.errors import database_unavailable
from vidgate.api.openapi import error_responses
from vidgate.errors import InvalidSignature
from vidgate.schemas import (
    SUBMIT_PATH,
    EngineList,
    SubmitRequest,
    SubmitResponse,
    TaskList,
    TaskResult,
    UsageReport,
    VoiceList,
)
from vidgate.storage.signing import verify
from vidgate.tasks.model import TaskStatus

router = APIRouter()
STATUS_FILTERS = [spelling for status in TaskStatus for spelling in (status.wire, status.value)]
# What `next_cursor` looks like: creation time in ms, `_`, the task id (a UUID as str() writes it).
# In the document only: the route refuses anything else in its own words.
CURSOR_PATTERN = r"^[0-9]{1,15}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# What the usage report's parameters look like; the service checks the rest (a real date, the window).
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
GROUP_BY_PATTERN = r"^((day|key|engine)(,(day|key|engine))*)?$"
# The shortest life of a presigned download URL: time to start the download after the redirect.
MIN_PRESIGNED_S = 60


def _task_links(*operations: str) -> dict[str, object]:
    """OpenAPI links from a submit's task_id to the operations that take it (clients and
    schemathesis' stateful tests follow them)."""
    return {
        name: {"operationRef": ref, "parameters": {"task_id": "$response.body#/task_id"}}
        for name, ref in zip(("GetTaskResult", "CancelTask", "TaskEvents"), operations, strict=True)
    }


@router.post(
    SUBMIT_PATH,
    response_model=SubmitResponse,
    response_model_exclude_none=True,
    responses={
        200: {
            "links": _task_links(
                "#/paths/~1v3~1async~1task-result/get",
                "#/paths/~1v3~1async~1task-cancel/post",
                "#/paths/~1v3~1async~1task-events/get",
            )
        },
        **error_responses(*KEYED, 409, 413, 429),
    },
)
def submit(
    body: SubmitRequest,
    request: Request,
    key: Key,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> SubmitResponse:
    task = services(request).submit(
        key.tenant_id, body, idempotency_key, key=key, base_url=str(request.base_url)
    )
    return SubmitResponse(task_id=task.id)


@router.get("/v3/async/task-result", response_model=TaskResult, responses=error_responses(*ON_A_TASK))
def task_result(request: Request, key: Key, task_id: TaskIdQuery) -> TaskResult:
    svc = services(request)
    return svc.result_document(svc.get(task_id, key.tenant_id), str(request.base_url))


@router.post("/v3/async/task-cancel", response_model=TaskResult, responses=error_responses(*ON_A_TASK))
def task_cancel(request: Request, key: Key, task_id: TaskIdQuery) -> TaskResult:
    svc = services(request)
    return svc.result_document(svc.cancel(task_id, key.tenant_id), str(request.base_url))


@router.get("/v3/async/tasks", response_model=TaskList, responses=error_responses(*KEYED))
def list_tasks(
    request: Request,
    key: Key,
    status: Annotated[
        str | None,
        Query(
            description="Only tasks in this status; the `TASK_STATUS_` prefix is optional",
            json_schema_extra={"enum": STATUS_FILTERS},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page", json_schema_extra={"pattern": CURSOR_PATTERN}),
    ] = None,
) -> TaskList:
    return services(request).list_tasks(key.tenant_id, status, limit, cursor, str(request.base_url))


@router.get(
    "/v3/usage",
    response_model=UsageReport,
    response_model_exclude_none=True,
    responses=error_responses(*KEYED),
)
def usage(
    request: Request,
    key: Key,
    since: Annotated[
        str | None,
        Query(description="First UTC day, YYYY-MM-DD (default: 29 days before until)", pattern=DAY_PATTERN),
    ] = None,
    until: Annotated[
        str | None, Query(description="Last UTC day, YYYY-MM-DD (default: today)", pattern=DAY_PATTERN)
    ] = None,
    group_by: Annotated[
        str | None,
        Query(
            description="Comma-separated: day, key, engine; empty for totals only (default: day)",
            pattern=GROUP_BY_PATTERN,
        ),
    ] = None,
) -> UsageReport:
    """The caller's tenant's usage (vidgate extension): tasks submitted, succeeded, failed and
    cancelled, seconds of video delivered and of rendering, per UTC day, key or engine."""
    return services(request).usage(key.tenant_id, since, until, group_by)


@router.get("/v3/voices", response_model=VoiceList, responses=error_responses(500))
def voices(request: Request) -> VoiceList:
    """The voice catalogue (vidgate extension). Public, like the docs: it names no tenant's data."""
    return services(request).voice_catalogue()


@router.get("/v3/engines", response_model=EngineList, responses=error_responses(500))
def engines(request: Request) -> EngineList:
    """The engines this deployment runs (vidgate extension): their limits, and whether a worker runs
    each now. Public, like the voices: it names no tenant's data."""
    return services(request).engine_catalogue()


@router.api_route("/v3/files/{key:path}", methods=GET_AND_HEAD, include_in_schema=False)
def download(request: Request, key: str, expires: int = 0, signature: str = "") -> Response:
    """Our signed link: a local file is served here; an object in a bucket is a redirect to a
    presigned URL of the bucket's, valid for what is left of this link's life (a minute at least)."""
    svc = services(request)
    if not verify(svc.signing_secret, key, expires, signature):
        raise InvalidSignature("This link is invalid or has expired; read task-result again for a fresh one.")
    path = svc.objects.local_path(key)
    if path is None:
        if not svc.objects.exists(key):
            raise svc.missing_file(key)
        lifetime = max(MIN_PRESIGNED_S, expires - int(clock.now()))
        url = svc.objects.download_url(key, lifetime, method=request.method)
        assert url is not None, "a store without local files presigns its downloads"
        return RedirectResponse(url, status_code=302)
    if not path.is_file():
        raise svc.missing_file(key)
    return FileResponse(path, media_type="video/mp4", filename=path.name)


@router.api_route("/healthz", methods=GET_AND_HEAD, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.api_route("/readyz", methods=GET_AND_HEAD, include_in_schema=False)
def readyz(request: Request) -> dict[str, object]:
    """Ready when the database answers; a load balancer stops sending traffic on a 503. An engine
    no worker runs does not make the API unready (submits are still taken, and wait), but is named."""
    svc = services(request)
    try:
        live = svc.store.workers.live_by_engine()
    except Exception:
        raise database_unavailable() from None
    workers = {name: live.get(name, 0) for name in svc.settings.enabled_engines()}
    unserved = [name for name, count in workers.items() if count == 0]
    return {"status": "ready", "workers": workers, "engines_without_workers": unserved}
