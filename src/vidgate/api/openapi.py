"""The OpenAPI document: what the server answers and accepts, as clients and schemathesis read it.

FastAPI documents a 422 on every operation with parameters; vidgate never sends one (a request it
cannot read is a 400 with the contract's envelope), so those go. Each operation lists instead the
codes it can answer with the envelope (`error_responses`). Limits that come from settings (the
number of images) are written in from the settings the app runs with.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from vidgate.errors import CorsRefused, TaskFailure, VidgateError
from vidgate.schemas import ErrorEnvelope
from vidgate.settings import Settings

FRAMEWORK_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Errors no documented operation answers with: a task's own failure reason (it is stored, not sent),
# and the refusal of a CORS preflight (an OPTIONS, which is no operation of the document).
NOT_OPERATION_ERRORS = (TaskFailure, CorsRefused)


def _reasons_by_status() -> dict[int, list[str]]:
    """Every reason errors.py names, by HTTP status, for the documented responses."""
    found: dict[int, list[str]] = {}
    pending = list(VidgateError.__subclasses__())
    while pending:
        error = pending.pop(0)
        pending += error.__subclasses__()
        if error not in NOT_OPERATION_ERRORS and "reason" in vars(error):
            found.setdefault(error.status, []).append(error.reason)
    return found


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes an operation can answer with, each the envelope."""
    reasons = _reasons_by_status()
    return {
        code: {
            "model": ErrorEnvelope,
            "description": "The error envelope; `reason` is one of "
            + ", ".join(f"`{reason}`" for reason in reasons.get(code, ["HTTP_ERROR"])),
        }
        for code in codes
    }


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`str | None` as a query parameter: absent is how it is left out (`required: false`); there is
    no null in a query string, and an empty `?cursor=` is a value, refused like any other."""
    variants = [variant for variant in schema.get("anyOf", []) if variant != {"type": "null"}]
    if len(variants) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return variants[0] | rest


def _errors_are_json(response: dict[str, Any]) -> None:
    """FastAPI files an operation's error responses under its own media type; a stream's errors
    (task-events, refused before streaming) are the JSON envelope all the same."""
    content = response.get("content", {})
    if "application/json" not in content and content:
        response["content"] = {"application/json": next(iter(content.values()))}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
                    for code, response in operation["responses"].items():
                        if code >= "400":
                            _errors_are_json(response)
                    for parameter in operation.get("parameters", []):
                        parameter["schema"] = _without_null(parameter["schema"])
            schemas = document["components"]["schemas"]
            for name in FRAMEWORK_VALIDATION_SCHEMAS:
                schemas.pop(name, None)
            schemas["SubmitRequest"]["properties"]["images"]["maxItems"] = settings.max_images
            # The engines this deployment enables (the limits of each are listed by GET /v3/engines).
            engine = schemas["SubmitExtra"]["properties"]["engine"]
            engine["anyOf"] = [{"enum": settings.enabled_engines()}, {"type": "null"}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
