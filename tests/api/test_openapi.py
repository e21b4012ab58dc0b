"""The OpenAPI document: the contract's envelope and codes, and schemas that say what the server accepts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from support.api import Api
from support.media import data_uri, make_image

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_no_operation_documents_a_422_and_every_error_is_the_envelope(document: dict[str, Any]) -> None:
    assert "422" not in str(document) and "HTTPValidationError" not in str(document)
    for name, operation in operations(document).items():
        errors = {code: spec for code, spec in operation["responses"].items() if code >= "400"}
        assert "500" in errors, name
        for code, spec in errors.items():
            assert spec["content"]["application/json"]["schema"] == ENVELOPE, (name, code)
            assert "`" in spec["description"], f"{name} {code} names the reasons it can carry"


def test_each_operation_lists_the_codes_it_can_answer(document: dict[str, Any]) -> None:
    codes = {name: sorted(op["responses"]) for name, op in operations(document).items()}
    assert codes == {
        "POST /v3/async/vidu-q2-pro-img2video": (
            ["200", "400", "401", "403", "409", "413", "429", "500", "503"]
        ),
        "GET /v3/async/task-result": ["200", "400", "401", "403", "404", "500", "503"],
        "POST /v3/async/task-cancel": ["200", "400", "401", "403", "404", "500", "503"],
        "GET /v3/async/tasks": ["200", "400", "401", "403", "500", "503"],
        "GET /v3/async/task-events": ["200", "400", "401", "403", "404", "500", "503"],
        "GET /v3/usage": ["200", "400", "401", "403", "500", "503"],
        "GET /v3/voices": ["200", "500"],
        "GET /v3/engines": ["200", "500"],
    }


def test_the_image_count_is_the_configured_one(api: Api) -> None:
    api.services.settings.max_images = 3
    api.client.app.openapi_schema = None  # type: ignore[attr-defined]
    images = api.client.get("/openapi.json").json()["components"]["schemas"]["SubmitRequest"]["properties"]
    assert images["images"]["maxItems"] == 3


def schema_accepts(schema: dict[str, Any], value: str) -> bool:
    """The string constraints of a schema, as a validator applies them."""
    return (
        schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
        and re.search(schema["pattern"], value) is not None
    )


PROMPTS = [
    "x",
    " x ",
    "\x1ex\x1e",
    "\u3000",
    "\x1e\x1f",
    " ",
    "",
    "x" * 2000,
    " " + "x" * 2000 + "\n",
    "x" * 2001,
]
WEBHOOK_URLS = [
    "",
    "http://",
    "ftp://x",
    "http://a b",
    "http://u@h",
    "http://h:65536/",
    "https://127.0.0.1:8/hook",
]
CURSORS = ["", "1_", "123_x", "12_" + "0" * 36, "17000_00000000-0000-4000-8000-000000000000"]


VOICE_IDS = ["", "v" * 256, "v" * 257, "Evil\nVoice", "Evil\x85Voice", "English_Warm_Woman"]


def image() -> str:
    return data_uri(make_image(32, 18))


def disagreements(schema: dict[str, Any], values: list[str], answer: Any) -> list[tuple[str, int]]:
    """The values the schema and the server judge differently (the server: 200 or not)."""
    found = []
    for value in values:
        status = answer(value).status_code
        if (status == 200) != schema_accepts(schema, value):
            found.append((value, status))
    return found


def test_the_prompt_schema_and_the_server_agree(api: Api, document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["SubmitRequest"]["properties"]["prompt"]

    def answer(prompt: str):  # type: ignore[no-untyped-def]
        return api.submit({"images": [image()], "prompt": prompt, "duration": 1})

    assert disagreements(schema, PROMPTS, answer) == []


def test_the_webhook_url_schema_and_the_server_agree(api: Api, document: dict[str, Any]) -> None:
    """`""` was schema-valid and refused. (The test settings allow 127.0.0.1: no address is refused.)"""
    schema = document["components"]["schemas"]["WebhookSpec"]["properties"]["url"]

    def answer(url: str):  # type: ignore[no-untyped-def]
        return api.submit({"images": [image()], "prompt": "x", "extra": {"webhook": {"url": url}}})

    assert disagreements(schema, WEBHOOK_URLS, answer) == []


def test_the_cursor_schema_and_the_server_agree(api: Api, document: dict[str, Any]) -> None:
    """`?cursor=` was schema-valid (and null allowed) and refused."""
    parameters = document["paths"]["/v3/async/tasks"]["get"]["parameters"]
    (schema,) = [parameter["schema"] for parameter in parameters if parameter["name"] == "cursor"]
    assert schema["type"] == "string" and "anyOf" not in schema, "in a query: absent or a string, never null"

    def answer(cursor: str):  # type: ignore[no-untyped-def]
        response = api.client.get("/v3/async/tasks", params={"cursor": cursor}, headers=api.headers)
        if response.status_code != 200:
            assert response.json()["message"] == "Field 'cursor': not a cursor this server issued."
        return response

    assert disagreements(schema, CURSORS, answer) == []


def test_the_voice_id_schema_and_the_server_agree(api: Api, document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["SubmitRequest"]["properties"]["voice_id"]

    def answer(voice_id: str):  # type: ignore[no-untyped-def]
        return api.submit({"images": [image()], "prompt": "x", "voice_id": voice_id})

    assert disagreements(schema, VOICE_IDS, answer) == []
