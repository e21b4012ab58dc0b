"""HTTP routes: parse, authenticate, call the service, shape the answer. No logic lives here.

Routes are plain `def`s: FastAPI runs them in its thread pool, so blocking database and image work
never stalls the event loop.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from vidgate.api.auth import require_key
from vidgate.api.openapi import error_responses
from vidgate.api.service import Services, is_task_id
from vidgate.errors import FileNotFound, InvalidRequestBody, InvalidSignature, ServiceUnavailable
from vidgate.schemas import (
    SubmitRequest,
    SubmitResponse,
    TaskList,
    TaskResult,
    VoiceList,
)
from vidgate.storage.signing import verify
from vidgate.tasks.model import ApiKey, TaskStatus

router = APIRouter()
# The envelope's codes each kind of operation can answer with (documented per operation).
KEYED = (400, 401, 403, 500)  # a request with a key: bad parameters, no key, a bad key, a fault
ON_A_TASK = (*KEYED, 404)
STATUS_FILTERS = [spelling for status in TaskStatus for spelling in (status.wire, status.value)]
Key = Annotated[ApiKey, Depends(require_key)]
# min_length: `?task_id=` is answered as a missing task_id is, not as an unknown one.
TaskIdQuery = Annotated[str, Query(min_length=1, max_length=64)]
# What `next_cursor` looks like: creation time in ms, `_`, the task id (a UUID as str() writes it).
# In the document only: the route refuses anything else in its own words.
CURSOR_PATTERN = r"^[0-9]{1,15}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# The shortest life of a presigned download URL: time to start the download after the redirect.
MIN_PRESIGNED_S = 60


def services(request: Request) -> Services:
    return request.app.state.services


def _task_links(*operations: str) -> dict[str, object]:
    """OpenAPI links from a submit's task_id to the operations that take it (clients and
    schemathesis' stateful tests follow them)."""
    return {
        name: {"operationRef": ref, "parameters": {"task_id": "$response.body#/task_id"}}
        for name, ref in zip(("GetTaskResult", "CancelTask", "TaskEvents"), operations, strict=True)
    }


@router.post(
    "/v3/async/vidu-q2-pro-img2video",
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
    svc = services(request)
    wanted = None
    if status is not None:
        try:
            wanted = TaskStatus(status.removeprefix("TASK_STATUS_"))
        except ValueError:
            allowed = [known.value for known in TaskStatus]
            raise InvalidRequestBody(
                f"Field 'status': unknown status {status!r}; use one of {', '.join(allowed)} "
                "(the TASK_STATUS_ prefix is optional).",
                {"field": "status", "allowed": allowed},
            ) from None
    after = None
    if cursor is not None:
        created, _, task_id = cursor.partition("_")
        # isascii: "²".isdigit() is true, int("²") is not; 15 digits: milliseconds for 30,000 years.
        if not (created.isascii() and created.isdigit() and len(created) <= 15) or not is_task_id(task_id):
            raise InvalidRequestBody("Field 'cursor': not a cursor this server issued.", {"field": "cursor"})
        after = (int(created), task_id)
    tasks = svc.store.list_tasks(key.tenant_id, status=wanted, limit=limit, after=after)
    base = str(request.base_url)
    next_cursor = f"{tasks[-1].created_ms}_{tasks[-1].id}" if len(tasks) == limit else None
    return TaskList(tasks=[svc.result_document(t, base) for t in tasks], next_cursor=next_cursor)


@router.get("/v3/voices", response_model=VoiceList, responses=error_responses(500))
def voices(request: Request) -> VoiceList:
    """The voice catalogue (vidgate extension). Public, like the docs: it names no tenant's data."""
    return services(request).voice_catalogue()


# HEAD beside GET where tools ask it: `curl -I` and download managers on a video link, load
# balancers on health checks. The route answers HEAD as GET; the server sends the headers only.
GET_AND_HEAD = ["GET", "HEAD"]


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
            raise FileNotFound("The file is no longer available.")
        lifetime = max(MIN_PRESIGNED_S, expires - int(time.time()))
        url = svc.objects.download_url(key, lifetime, method=request.method)
        assert url is not None, "a store without local files presigns its downloads"
        return RedirectResponse(url, status_code=302)
    if not path.is_file():
        raise FileNotFound("The file is no longer available.")
    return FileResponse(path, media_type="video/mp4", filename=path.name)


@router.api_route("/healthz", methods=GET_AND_HEAD, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.api_route("/readyz", methods=GET_AND_HEAD, include_in_schema=False)
def readyz(request: Request) -> dict[str, str]:
    """Ready when the database answers; a load balancer stops sending traffic on a 503."""
    try:
        services(request).store.has_claimable()
    except Exception:
        raise ServiceUnavailable("The database is unreachable.") from None
    return {"status": "ready"}
