"""The Python SDK against the app: sync through the test client, async through httpx's ASGI transport."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from conftest import Api
from helpers import data_uri, make_image, probe
from vidgate.app import create_app
from vidgate.client import ApiError, AsyncClient, Client, TaskFailed
from vidgate.worker.runner import Worker


def test_submit_wait_download(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = Client("http://testserver", api.key, http=api.client)
    task_id = client.submit([data_uri(make_image())], "pan right", duration=1, resolution="540p", seed=4)
    assert client.result(task_id)["task"]["status"] == "TASK_STATUS_QUEUED"
    assert [t["task"]["task_id"] for t in client.list_tasks()["tasks"]] == [task_id]
    Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    result = client.wait(task_id, timeout=5, interval=0.01)
    assert result["extra"]["seed"] == "4"
    video = client.download(result, tmp_path / "out.mp4")
    assert probe(video)["frames"] == 24


def test_errors_carry_the_envelope(api: Api) -> None:
    client = Client("http://testserver", api.key, http=api.client)
    with pytest.raises(ApiError) as error:
        client.submit([data_uri(make_image())], "x", duration=11)
    assert error.value.code == 400 and error.value.reason == "INVALID_REQUEST_BODY"
    assert error.value.metadata == {"field": "duration"}
    with pytest.raises(ApiError, match="TASK_NOT_FOUND"):
        client.result("nope")
    task_id = client.submit([data_uri(make_image())], "x")
    client.cancel(task_id)
    with pytest.raises(TaskFailed, match="CANCELED"):
        client.wait(task_id, timeout=1)
    with pytest.raises(ApiError) as denied:
        Client("http://testserver", "vg_wrong", http=api.client).result(task_id)
    assert denied.value.code == 403


def test_async_client(api: Api) -> None:
    app = create_app(api.services.settings, api.services)

    async def scenario() -> tuple[str, str]:
        transport = httpx.ASGITransport(app=app)
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        async with AsyncClient("http://testserver", api.key, http=http) as client:
            task_id = await client.submit(
                [data_uri(make_image())], "zoom out", duration=1, idempotency_key="k1"
            )
            again = await client.submit(
                [data_uri(make_image())], "zoom out", duration=1, idempotency_key="k1"
            )
            assert again == task_id
            await client.cancel(task_id)
            try:
                await client.wait(task_id, timeout=1, interval=0.01)
            except TaskFailed as failed:
                return task_id, failed.result["task"]["reason"]
            raise AssertionError("a cancelled task cannot succeed")

    task_id, reason = asyncio.run(scenario())
    assert task_id and reason == "CANCELED"
