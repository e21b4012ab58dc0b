"""Every bad input gets the contract's envelope with the right status and reason, and loses nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from support.api import Api
from support.media import data_uri, make_image
from vidgate.app import create_app
from vidgate.settings import Settings
from vidgate.store.db import open_engine
from vidgate.store.sql import SqlTaskStore

SUBMIT = "/v3/async/vidu-q2-pro-img2video"


def assert_envelope(response, status: int, reason: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "reason", "message", "metadata"}
    assert body["code"] == status and body["reason"] == reason
    assert body["message"] and "Traceback" not in body["message"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def good_image() -> str:
    return data_uri(make_image())


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"duration": 0}, "duration"),
        ({"duration": 11}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"duration": 5.0}, "duration"),
        ({"duration": True}, "duration"),
        ({"resolution": "4k"}, "resolution"),
        ({"resolution": 720}, "resolution"),
        ({"movement_amplitude": "huge"}, "movement_amplitude"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 2001}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"images": []}, "images"),
        ({"images": "data:image/png;base64,AAAA"}, "images"),
        ({"images": [{}]}, "images[0]"),
        ({"images": ["data:image/png;base64,AAAA", 1]}, "images[1]"),
        ({"seed": -1}, "seed"),
        ({"seed": "123"}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"bgm": "true"}, "bgm"),
        ({"audio": 1}, "audio"),
        ({"watermark": None}, "watermark"),
        ({"off_peak": "no"}, "off_peak"),
        ({"voice_id": ""}, "voice_id"),
        ({"voice_id": "v" * 257}, "voice_id"),
        ({"voice_id": "Evil\nVoice"}, "voice_id"),
        ({"voice_id": 12}, "voice_id"),
    ],
)
def test_wrong_types_and_out_of_range_values_name_the_field(
    api: Api, good_image: str, patch: dict[str, object], field: str
) -> None:
    body = {"images": [good_image], "prompt": "zoom in"} | patch
    error = assert_envelope(api.submit(body), 400, "INVALID_REQUEST_BODY")
    assert error["metadata"]["field"] == field and f"'{field}'" in error["message"]
    assert api.services.store.list_tasks("alice") == [], "nothing was created"


def test_a_wrong_list_item_is_named_as_image_messages_name_it(api: Api) -> None:
    error = assert_envelope(api.submit({"images": [1], "prompt": "zoom in"}), 400, "INVALID_REQUEST_BODY")
    assert error["message"].startswith("Field 'images[0]': ")
    assert error["metadata"] == {"field": "images[0]", "index": 0}


def test_a_webhook_url_must_be_http_and_says_so_in_its_own_words(api: Api, good_image: str) -> None:
    for url in ("ftp://x", "data:image/png;base64,AAAA"):
        body = {"images": [good_image], "prompt": "zoom in", "extra": {"webhook": {"url": url}}}
        error = assert_envelope(api.submit(body), 400, "INVALID_REQUEST_BODY")
        assert error["message"] == "Field 'extra.webhook.url': must be an http(s) URL."
        assert error["metadata"] == {"field": "extra.webhook.url"}


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_object_sent_without_a_json_content_type_says_which_header_to_send(
    api: Api, good_image: str, content_type: str | None
) -> None:
    raw = json.dumps({"images": [good_image], "prompt": "zoom in"}).encode()
    headers = api.headers | ({"Content-Type": content_type} if content_type else {})
    error = assert_envelope(
        api.client.post(SUBMIT, content=raw, headers=headers), 400, "INVALID_REQUEST_BODY"
    )
    assert error["message"] == "The request body must be sent as JSON, with Content-Type: application/json."
    assert api.services.store.list_tasks("alice") == [], "nothing was created"


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_a_json_content_type_with_a_non_object_body_still_says_object(api: Api, content_type: str) -> None:
    response = api.client.post(
        SUBMIT, content=b"[1, 2]", headers=api.headers | {"Content-Type": content_type}
    )
    error = assert_envelope(response, 400, "INVALID_REQUEST_BODY")
    assert error["message"] == "The request body must be a JSON object."


@pytest.mark.parametrize("missing", ["images", "prompt"])
def test_missing_required_fields(api: Api, good_image: str, missing: str) -> None:
    body = {"images": [good_image], "prompt": "zoom in"}
    del body[missing]
    error = assert_envelope(api.submit(body), 400, "INVALID_REQUEST_BODY")
    assert error["message"] == f"Field '{missing}' is required."


@pytest.mark.parametrize("raw", [b"{bad json", b"", b"[1, 2]", b'"text"', b"null"])
def test_malformed_or_non_object_bodies(api: Api, raw: bytes) -> None:
    response = api.client.post(
        SUBMIT, content=raw, headers=api.headers | {"Content-Type": "application/json"}
    )
    assert_envelope(response, 400, "INVALID_REQUEST_BODY")


def test_missing_unknown_and_revoked_keys(api: Api, good_image: str) -> None:
    body = {"images": [good_image], "prompt": "zoom in"}
    assert_envelope(api.client.post(SUBMIT, json=body), 401, "MISSING_API_KEY")
    assert_envelope(api.submit(body, headers={"Authorization": "Bearer vg_unknown"}), 403, "INVALID_API_KEY")
    assert_envelope(api.submit(body, headers={"Authorization": "Bearer "}), 401, "MISSING_API_KEY")
    record, secret = api.services.store.keys.create("temp")
    assert api.submit(body, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert api.submit(body, headers={"Authorization": secret}).status_code == 200, "a bare key works too"
    api.services.store.keys.revoke(record.id)
    assert_envelope(api.submit(body, headers={"Authorization": f"Bearer {secret}"}), 403, "INVALID_API_KEY")
    response = api.client.get("/v3/async/task-result", params={"task_id": "x"})
    assert_envelope(response, 401, "MISSING_API_KEY")


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("data:image/png;base64,@@not base64@@", "INVALID_IMAGE_FORMAT"),
        ("data:image/png;base64,aGVsbG8gd29ybGQ=", "INVALID_IMAGE_FORMAT"),  # "hello world"
        ("data:text/plain;base64,aGVsbG8=", "INVALID_IMAGE_FORMAT"),
        ("data:image/png,rawdata", "INVALID_IMAGE_FORMAT"),
        (data_uri(make_image(fmt="GIF"), "gif"), "INVALID_IMAGE_FORMAT"),
        (data_uri(make_image(fmt="BMP"), "bmp"), "INVALID_IMAGE_FORMAT"),
        (data_uri(make_image()[:200]), "INVALID_IMAGE_FORMAT"),  # truncated PNG
        (data_uri(make_image(width=500, height=100)), "INVALID_IMAGE_SIZE"),  # 5:1
        (data_uri(make_image(width=20, height=100)), "INVALID_IMAGE_SIZE"),  # 1:5
        (data_uri(make_image(width=8, height=8)), "INVALID_IMAGE_SIZE"),
        ("ftp://example.com/a.png", "INVALID_IMAGE_URL"),
        ("file:///etc/passwd", "INVALID_IMAGE_URL"),
        ("not a url", "INVALID_IMAGE_URL"),
        ("http://", "INVALID_IMAGE_URL"),
    ],
)
def test_bad_images_are_refused_at_submit(api: Api, image: str, reason: str) -> None:
    error = assert_envelope(api.submit({"images": [image], "prompt": "zoom in"}), 400, reason)
    assert error["metadata"]["index"] == 0 and "images[0]" in error["message"]


def test_the_second_bad_image_is_named(api: Api, good_image: str) -> None:
    error = assert_envelope(
        api.submit({"images": [good_image, "data:image/png;base64,AAAA"], "prompt": "x"}),
        400,
        "INVALID_IMAGE_FORMAT",
    )
    assert error["metadata"]["index"] == 1


def test_image_limits_come_from_settings(settings: Settings, api: Api, good_image: str) -> None:
    too_many = api.submit({"images": [good_image] * 9, "prompt": "x"})
    error = assert_envelope(too_many, 400, "INVALID_REQUEST_BODY")
    assert error["metadata"]["limit"] == 8 and "8" in error["message"]
    api.services.settings.max_image_bytes = 2048
    big = api.submit({"images": [good_image], "prompt": "x"})
    assert_envelope(big, 400, "IMAGE_FILE_EXCEEDS_MAX_SIZE")
    api.services.settings.max_image_bytes = 50 * 1024 * 1024
    api.services.settings.max_image_pixels = 1000
    assert_envelope(api.submit({"images": [good_image], "prompt": "x"}), 400, "IMAGE_EXCEEDS_MAX_RESOLUTION")


def test_private_addresses_are_refused_unless_allowed(api: Api) -> None:
    api.services.settings.allow_private_urls = False
    for url in (
        "http://127.0.0.1/a.png",
        "http://localhost/a.png",
        "http://10.0.0.1/a.png",
        "http://[::1]/a.png",
    ):
        assert_envelope(api.submit({"images": [url], "prompt": "x"}), 400, "INVALID_IMAGE_URL")


def test_unknown_task_route_and_method(api: Api) -> None:
    assert_envelope(api.result("does-not-exist"), 404, "TASK_NOT_FOUND")
    assert_envelope(api.client.get("/v3/async/task-result", headers=api.headers), 400, "INVALID_REQUEST_BODY")
    assert_envelope(api.client.get("/v3/nothing-here"), 404, "API_NOT_FOUND")
    assert_envelope(api.client.get(SUBMIT), 405, "METHOD_NOT_ALLOWED")


def test_an_unknown_status_filter_lists_the_valid_ones(api: Api) -> None:
    response = api.client.get("/v3/async/tasks", params={"status": "failed"}, headers=api.headers)
    error = assert_envelope(response, 400, "INVALID_REQUEST_BODY")
    assert error["message"] == (
        "Field 'status': unknown status 'failed'; use one of QUEUED, PROCESSING, SUCCEED, FAILED "
        "(the TASK_STATUS_ prefix is optional)."
    )
    assert error["metadata"] == {"field": "status", "allowed": ["QUEUED", "PROCESSING", "SUCCEED", "FAILED"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v3/async/task-result"), ("POST", "/v3/async/task-cancel"), ("GET", "/v3/async/task-events")],
)
def test_an_empty_task_id_is_as_required_as_a_missing_one(api: Api, method: str, path: str) -> None:
    missing = assert_envelope(
        api.client.request(method, path, headers=api.headers), 400, "INVALID_REQUEST_BODY"
    )
    empty = api.client.request(method, path, params={"task_id": ""}, headers=api.headers)
    assert assert_envelope(empty, 400, "INVALID_REQUEST_BODY") == missing
    assert missing["message"] == "Field 'task_id' is required." and missing["metadata"] == {
        "field": "task_id"
    }


def test_health_checks_answer_head_as_they_answer_get(api: Api) -> None:
    for path in ("/healthz", "/readyz"):
        get, head = api.client.get(path), api.client.head(path)
        assert get.status_code == head.status_code == 200, head.text
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == get.headers["content-length"]


@pytest.fixture
def database_down(api: Api) -> Iterator[None]:
    """The API's store on a database nobody listens for (port 1 of this machine)."""
    working = api.services.store
    api.services.store = SqlTaskStore(open_engine("postgresql+psycopg://postgres@127.0.0.1:1/none"))
    yield
    api.services.store.engine.dispose()
    api.services.store = working


@pytest.mark.usefixtures("database_down")
def test_readyz_head_is_503_too_when_the_database_is_unreachable(api: Api) -> None:
    head = api.client.head("/readyz")
    assert head.status_code == 503 and head.content == b""


@pytest.mark.usefixtures("database_down")
def test_submit_and_task_result_are_503_with_retry_after_while_the_database_is_down(
    api: Api, good_image: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage is no fault of the request: the envelope says retry, and when; no 500, no traceback."""
    body = {"images": [good_image], "prompt": "zoom in", "duration": 1}
    answers = [
        api.client.post(SUBMIT, json=body, headers=api.headers),
        api.client.get("/v3/async/task-result", params={"task_id": "any"}, headers=api.headers),
        api.client.get("/readyz"),
    ]
    for response in answers:
        envelope = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
        assert response.headers["Retry-After"] == "5"
        assert envelope["metadata"] == {"retry_after": 5}
    logged = [record for record in caplog.records if record.name == "vidgate.api"]
    assert logged and all(record.exc_info is None for record in logged), "one line each, no traceback"
    assert "OperationalError" in logged[0].getMessage()


def test_request_body_cap(api: Api) -> None:
    api_settings = api.services.settings
    response = api.client.post(
        SUBMIT,
        content=b"x" * (api_settings.max_request_bytes + 1),
        headers=api.headers | {"Content-Type": "application/json"},
    )
    assert_envelope(response, 413, "REQUEST_BODY_TOO_LARGE")

    def chunks():  # no Content-Length: a chunked upload is counted as it streams
        for _ in range(api_settings.max_request_bytes // (1024 * 1024) + 2):
            yield b"x" * (1024 * 1024)

    chunked = api.client.post(
        SUBMIT, content=chunks(), headers=api.headers | {"Content-Type": "application/json"}
    )
    assert_envelope(chunked, 413, "REQUEST_BODY_TOO_LARGE")


@pytest.mark.usefixtures("database_down")
def test_readyz_is_503_when_the_database_is_unreachable(api: Api) -> None:
    assert_envelope(api.client.get("/readyz"), 503, "SERVICE_UNAVAILABLE")


def test_signed_urls_refuse_tampering_and_expiry(api: Api) -> None:
    from vidgate.storage.signing import signed_query

    secret = api.services.signing_secret
    api.services.objects.put_bytes("videos/t-1.mp4", b"\x00\x00\x00\x18ftypmp42")
    good = f"/v3/files/videos/t-1.mp4?{signed_query(secret, 'videos/t-1.mp4', 60)}"
    assert api.client.get(good).status_code == 200
    head = api.client.head(good)  # curl -I, download managers: the same headers, no body
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(b"\x00\x00\x00\x18ftypmp42"))
    assert head.headers["content-type"] == "video/mp4"
    assert api.client.head(good.replace("t-1", "t-2")).status_code == 403
    assert_envelope(api.client.get(good.replace("t-1", "t-2")), 403, "INVALID_SIGNATURE")
    assert_envelope(api.client.get(good[:-4] + "0000"), 403, "INVALID_SIGNATURE")
    assert_envelope(api.client.get("/v3/files/videos/t-1.mp4"), 403, "INVALID_SIGNATURE")
    expired = f"/v3/files/videos/t-1.mp4?{signed_query(secret, 'videos/t-1.mp4', 60, now=1_000_000)}"
    assert_envelope(api.client.get(expired), 403, "INVALID_SIGNATURE")
    gone = f"/v3/files/videos/t-9.mp4?{signed_query(secret, 'videos/t-9.mp4', 60)}"
    assert_envelope(api.client.get(gone), 404, "FILE_NOT_FOUND")


def test_internal_faults_are_a_500_envelope_without_a_stack_trace(
    settings: Settings, api: Api, good_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(api.services.store, "create_task", broken)
    monkeypatch.setattr(api.services.store, "get_task", broken)
    with TestClient(create_app(settings, api.services), raise_server_exceptions=False) as client:
        submit = client.post(SUBMIT, json={"images": [good_image], "prompt": "x"}, headers=api.headers)
        body = assert_envelope(submit, 500, "CREATE_TASK_FAILED")
        assert "secret" not in body["message"]
        some_id = "00000000-0000-4000-8000-000000000000"  # well-formed, so the store is asked
        result = client.get("/v3/async/task-result", params={"task_id": some_id}, headers=api.headers)
        assert_envelope(result, 500, "GET_RESULT_FAILED")
        # The faults are counted, though the envelope is written outside the metrics' middleware.
        metrics = client.get("/metrics").text
        assert 'code="500",method="GET",route="/v3/async/task-result"} 1.0' in metrics
        assert 'code="500",method="POST",route="/v3/async/vidu-q2-pro-img2video"} 1.0' in metrics
