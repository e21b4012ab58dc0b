"""The one place that turns errors into the contract's envelope. Routes raise; they never build error JSON."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vidgate.errors import (
    ApiNotFound,
    CreateTaskFailed,
    GetResultFailed,
    InvalidRequestBody,
    MethodNotAllowed,
    ServiceUnavailable,
    VidgateError,
)
from vidgate.schemas import SUBMIT_PATH
from vidgate.store.database import UNAVAILABLE_ERRORS, is_unavailable

log = logging.getLogger("vidgate.api")
# What a client is told to wait while the database is out of reach: a PostgreSQL restart or
# fail-over takes seconds, and a client that retries sooner only adds load to the recovery.
DATABASE_RETRY_AFTER_S = 5


def database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("The database is unreachable for now; please retry.", DATABASE_RETRY_AFTER_S)


def envelope(error: VidgateError) -> JSONResponse:
    return envelope_of(error.status, error.reason, error.message, error.metadata, error.headers or None)


def envelope_of(
    status: int, reason: str, message: str, metadata: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"code": status, "reason": reason, "message": message, "metadata": metadata}
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(errors: list[Any], content_type: str | None = None) -> InvalidRequestBody:
    """Name the first offending field in words a client developer can act on.

    `content_type` is the request's: FastAPI reads a body as JSON only when it says JSON, so a JSON
    object sent as a form (curl's `-d` without `-H`) arrives as bytes, and the fix is the header."""
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return InvalidRequestBody("The request body is not valid JSON.", {"field": None})
    location = [part for part in first.get("loc", ()) if part not in ("body", "query")]
    field = _field_name(location)
    metadata: dict[str, Any] = {"field": field}
    if location and isinstance(location[-1], int):
        metadata["index"] = location[-1]  # as image errors report it
    if first.get("type") == "missing" or _empty_query_parameter(first):
        message = f"Field '{field}' is required."
    elif field == "body" and not is_json(content_type):
        message = "The request body must be sent as JSON, with Content-Type: application/json."
    elif field == "body":
        message = "The request body must be a JSON object."
    else:
        detail = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        message = f"Field '{field}': {detail}."
    return InvalidRequestBody(message, metadata)


def _empty_query_parameter(error: dict[str, Any]) -> bool:
    """`?task_id=`: as absent as a missing task_id, so it gets the same answer (not a 404 for '')."""
    in_query = tuple(error.get("loc", ()))[:1] == ("query",)
    return in_query and error.get("type") == "string_too_short" and error.get("input") == ""


def _field_name(location: list[str | int]) -> str:
    """`images[0]`, `extra.webhook.url`: list items as image errors name them."""
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name or "body"


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body with this Content-Type as JSON (`application/json`, `...+json`)."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _framework_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return envelope(ApiNotFound(f"No API at {request.method} {request.url.path}."))
    if exc.status_code == 400:  # the framework could not read the body
        return envelope(InvalidRequestBody(f"The request body could not be read: {exc.detail}."))
    if exc.status_code == 405:
        return envelope(MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}."))
    return envelope_of(exc.status_code, "HTTP_ERROR", str(exc.detail), {})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VidgateError)
    async def _vidgate_error(_request: Request, exc: VidgateError) -> JSONResponse:
        return envelope(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        return envelope(describe_validation_error(list(exc.errors()), content_type))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _framework_error(request, exc)
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405, as RFC 9110 requires
        return response

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # One line, no traceback: an outage is an operator's event, not a bug, and it repeats per request.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, _first_line(exc))
        return envelope(database_unavailable())

    # Registered by class, these are answered inside the app; the catch-all below would answer too,
    # but Starlette re-raises what reaches it, and the server would log a traceback per request.
    for error_class in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_class, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_unavailable(exc):  # a dropped connection SQLAlchemy reports as another DBAPI error
            return await _database_unavailable(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.url.path == SUBMIT_PATH:
            return envelope(CreateTaskFailed("The task could not be created; please retry."))
        return envelope(GetResultFailed("The request failed on our side; please retry."))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"
