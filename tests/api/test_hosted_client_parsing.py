"""Every task-result document, read as a typed client of the hosted API reads it.

Such clients (Go structs with `,string` ints, TypeScript `BigInt(...)`, Java `Long.parseLong`) parse
each `*_time_ms`, `video_url_ttl` and `extra.seed` as a decimal integer and fail on anything else,
`""` included. These tests read every document vidgate hands out, in every status a task can be
in, through every door: task-result, task-cancel, the task list, the event stream and a webhook.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from support.api import Api
from support.media import data_uri, make_image
from support.servers import ImageServer, Receiver
from vidgate.errors import CANCELED
from vidgate.webhooks import WebhookSender
from vidgate.worker.runner import Worker

DECIMAL = re.compile(r"[0-9]+")  # what Go's strconv.ParseUint accepts: no sign, space or `_`


def strict_int(document: dict[str, Any], path: str) -> int:
    value: Any = document
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    assert isinstance(value, str) and DECIMAL.fullmatch(value), f"{path} = {value!r} is not a decimal integer"
    return int(value)


def read_as_hosted_client(document: dict[str, Any]) -> dict[str, int]:
    """The integers a hosted-API client reads from one task-result document."""
    task = document["task"]
    for name in ("eta", "progress_percent"):
        assert type(task[name]) is int, f"task.{name} = {task[name]!r}"
    numbers = {
        name: strict_int(document, f"extra.debug_info.{name}")
        for name in ("submit_time_ms", "execute_time_ms", "complete_time_ms")
    }
    numbers["seed"] = strict_int(document, "extra.seed")
    for index in range(len(document["videos"])):
        numbers[f"video_url_ttl.{index}"] = strict_int(document, f"videos.{index}.video_url_ttl")
    return numbers


def submit(api: Api, receiver: Receiver, image: str | None = None) -> str:
    body = {
        "images": [image or data_uri(make_image())],
        "prompt": "slow zoom in",
        "duration": 1,
        "resolution": "540p",
        "extra": {"webhook": {"url": receiver.url}},
    }
    response = api.submit(body)
    assert response.status_code == 200, response.text
    return str(response.json()["task_id"])


@pytest.fixture
def tasks_in_every_status(api: Api, receiver: Receiver, image_server: ImageServer) -> dict[str, str]:
    """One task per status: name -> task id. Claimed tasks are held by a worker that never renders."""
    store, worker = (
        api.services.store,
        Worker(api.services.settings, api.services.store, api.services.objects),
    )
    ids: dict[str, str] = {}
    ids["succeeded"] = submit(api, receiver)
    assert worker.run_once()
    ids["failed"] = submit(api, receiver, image_server.add("/page.html", b"<html></html>", "text/html"))
    assert worker.run_once()
    ids["cancelled while queued"] = submit(api, receiver)
    api.client.post(
        "/v3/async/task-cancel", params={"task_id": ids["cancelled while queued"]}, headers=api.headers
    )
    ids["cancelled while processing"] = submit(api, receiver)
    running = store.claim("test-worker", lease_seconds=60)
    assert running is not None and running.id == ids["cancelled while processing"]
    api.client.post("/v3/async/task-cancel", params={"task_id": running.id}, headers=api.headers)
    assert store.fail(running.id, running.attempt, CANCELED)  # as the worker ends a cancelled render
    ids["processing"] = submit(api, receiver)
    assert store.claim("test-worker", lease_seconds=60) is not None
    ids["queued"] = submit(api, receiver)
    return ids


EXPECTED = {
    "queued": ("TASK_STATUS_QUEUED", ""),
    "processing": ("TASK_STATUS_PROCESSING", ""),
    "succeeded": ("TASK_STATUS_SUCCEED", ""),
    "failed": ("TASK_STATUS_FAILED", "INVALID_IMAGE_URL"),
    "cancelled while queued": ("TASK_STATUS_FAILED", CANCELED),
    "cancelled while processing": ("TASK_STATUS_FAILED", CANCELED),
}


def test_every_document_in_every_status_parses_as_integers(
    api: Api, receiver: Receiver, tasks_in_every_status: dict[str, str]
) -> None:
    """One test, as the tasks take a render to make: task-result, the list, cancel, events, webhooks."""
    for name, task_id in tasks_in_every_status.items():
        document = api.result(task_id).json()
        check_timeline(name, read_as_hosted_client(document), document)

    listed = api.client.get("/v3/async/tasks", params={"limit": 100}, headers=api.headers).json()["tasks"]
    assert {doc["task"]["task_id"] for doc in listed} == set(tasks_in_every_status.values())
    for document in listed:
        read_as_hosted_client(document)

    params = {"task_id": tasks_in_every_status["cancelled while queued"]}
    stream = api.client.get("/v3/async/task-events", params=params, headers=api.headers).text
    events = [line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data: ")]
    assert events, stream
    for event in events:
        assert read_as_hosted_client(json.loads(event))["execute_time_ms"] == 0

    s = api.services
    sender = WebhookSender(s.store, s.results, s.fetcher, s.settings.resolved_webhook_secret(), "")
    with httpx.Client() as http:
        assert sender.deliver_due(http) == 4, "every terminal task, none of the others"
    delivered = {}
    for _headers, body in receiver.received:
        document = json.loads(body)
        delivered[document["task"]["task_id"]] = read_as_hosted_client(document)
    by_id = {task_id: name for name, task_id in tasks_in_every_status.items()}
    assert {by_id[task_id] for task_id in delivered} == {name for name in EXPECTED if is_terminal(name)}
    for task_id, numbers in delivered.items():
        check_timeline(by_id[task_id], numbers, api.result(task_id).json())

    # Last, as it ends the queued task: cancel answers with the document, whatever the status.
    for task_id in tasks_in_every_status.values():
        answer = api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
        read_as_hosted_client(answer.json())


def is_terminal(name: str) -> bool:
    return EXPECTED[name][0] in ("TASK_STATUS_SUCCEED", "TASK_STATUS_FAILED")


def check_timeline(name: str, numbers: dict[str, int], document: dict[str, Any]) -> None:
    """0 until a moment is known, then the moment, in order."""
    status, reason = EXPECTED[name]
    assert document["task"]["status"] == status and document["task"]["reason"].startswith(reason), name
    submitted, started, done = (numbers[f"{moment}_time_ms"] for moment in ("submit", "execute", "complete"))
    assert submitted > 0, name
    if name in ("queued", "cancelled while queued"):
        assert started == 0, f"{name}: never executed, so 0"
    else:
        assert started >= submitted, name
    if is_terminal(name):
        assert done >= max(started, submitted), name
    else:
        assert done == 0, f"{name}: not complete, so 0"
    assert ("video_url_ttl.0" in numbers) == (name == "succeeded"), name
