"""Task events (SSE) and Prometheus metrics through the API."""

from __future__ import annotations

import json

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
