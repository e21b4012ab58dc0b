"""Task events (SSE) and Prometheus metrics through the API."""

from __future__ import annotations

import json
import threading

import fastapi.routing
import pytest

from support.api import Api
from support.media import data_uri, make_image
from vidgate.worker.runner import Worker


def read_events(api: Api, task_id: str) -> list[dict]:  # type: ignore[type-arg]
    events = []
    with api.client.stream(
        "GET", "/v3/async/task-events", params={"task_id": task_id}, headers=api.headers
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    return events


def test_events_end_with_the_terminal_document(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    (event,) = read_events(api, task_id)
    assert event["task"]["status"] == "TASK_STATUS_SUCCEED" and event["videos"][0]["video_url"]


def test_events_of_unknown_or_foreign_tasks_are_404(api: Api) -> None:
    response = api.client.get("/v3/async/task-events", params={"task_id": "nope"}, headers=api.headers)
    assert response.status_code == 404 and response.json()["reason"] == "TASK_NOT_FOUND"
    assert api.client.get("/v3/async/task-events", params={"task_id": "nope"}).status_code == 401


def events_of(text: str) -> list[dict[str, str]]:
    """The stream's events as field -> value, comments (`: ...`) as the field ""."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.partition(": ")[::2] for line in block.splitlines())
        if fields:
            events.append(fields)
    return events


def finished_task(api: Api) -> str:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    return task_id


def test_events_carry_ids_and_a_reconnect_with_the_last_one_gets_nothing_again(api: Api) -> None:
    task_id = finished_task(api)
    url, params = "/v3/async/task-events", {"task_id": task_id}
    response = api.client.get(url, params=params, headers=api.headers)
    assert response.headers["cache-control"] == "no-cache" and response.headers["x-accel-buffering"] == "no"
    (event,) = events_of(response.text)
    assert event["event"] == "task" and json.loads(event["data"])["task"]["task_id"] == task_id
    assert event["id"].startswith("SUCCEED.100.")
    again = api.client.get(url, params=params, headers=api.headers | {"Last-Event-ID": event["id"]})
    assert again.status_code == 200 and events_of(again.text) == [], "it has the final state: it ends"
    older = api.client.get(url, params=params, headers=api.headers | {"Last-Event-ID": "QUEUED.0.5"})
    assert [e["id"] for e in events_of(older.text)] == [event["id"]]


def test_a_last_event_id_too_long_is_the_envelope(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    headers = api.headers | {"Last-Event-ID": "x" * 201}
    response = api.client.get("/v3/async/task-events", params={"task_id": task_id}, headers=headers)
    assert response.status_code == 400 and response.json()["reason"] == "INVALID_REQUEST_BODY"


def test_a_quiet_stream_sends_keep_alive_comments_and_closes_after_the_final_event(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI's SSE pings after this much silence (15 s in service); a test does not wait that long.
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.05)
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    tenant_id = api.services.get(task_id, "alice").tenant_id
    # Cancelled by a timer, not on the first ping: a stream without pings ends too, and fails below.
    cancel = threading.Timer(0.5, api.services.cancel, (task_id, tenant_id))
    cancel.start()
    with api.client.stream(
        "GET", "/v3/async/task-events", params={"task_id": task_id}, headers=api.headers
    ) as response:
        lines = list(response.iter_lines())
    cancel.join()
    events = events_of("\n".join(lines))
    assert (
        events[0]["event"] == "task"
        and json.loads(events[0]["data"])["task"]["status"] == "TASK_STATUS_QUEUED"
    )
    assert {"": "ping"} in events, "keep-alive comments while nothing changes"
    final = json.loads(events[-1]["data"])
    assert final["task"]["status"] == "TASK_STATUS_FAILED", "the stream ends after the final event"


def test_metrics_count_tasks_and_requests(api: Api) -> None:
    body = {"images": [data_uri(make_image())], "prompt": "x", "duration": 1}
    for _ in range(2):
        api.submit(body)
    api.result("missing")
    text = api.client.get("/metrics").text
    assert 'vidgate_tasks{status="QUEUED"} 2.0' in text
    assert 'vidgate_tasks{status="SUCCEED"} 0.0' in text
    assert (
        'vidgate_http_requests_total{code="200",method="POST",route="/v3/async/vidu-q2-pro-img2video"} 2.0'
        in text
    )
    assert 'route="/v3/async/task-result"' in text and "missing" not in text, "routes, never raw ids"
    assert "vidgate_http_request_duration_seconds_bucket" in text
