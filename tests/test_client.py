"""The Python SDK against the app: sync through the test client, async through httpx's ASGI transport;
downloads also from real HTTP servers standing in for a bucket (moto's S3, a recording one)."""

from __future__ import annotations

import asyncio
import http.server
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from support.api import Api
from support.media import data_uri, make_image, probe
from support.servers import serving_http
from vidgate.app import build_services, create_app
from vidgate.client import ApiError, AsyncClient, Client, TaskFailed
from vidgate.settings import Settings
from vidgate.worker.runner import Worker


def finished_task(api: Api) -> dict[str, Any]:
    """A task the worker rendered: its task-result document."""
    client = Client("http://testserver", api.key, http=api.client)
    task_id = client.submit([data_uri(make_image())], "pan left", duration=1, seed=3)
    assert Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    return client.wait(task_id, timeout=5, interval=0.01)


def async_client_on(app: FastAPI, key: str) -> AsyncClient:
    """An AsyncClient that reaches the app in process and any other host (a bucket) over real HTTP."""
    http_client = httpx.AsyncClient(
        base_url="http://testserver", mounts={"http://testserver": httpx.ASGITransport(app=app)}
    )
    return AsyncClient("http://testserver", key, http=http_client)


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


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


def test_async_client_has_every_public_method_of_client_with_the_same_signature() -> None:
    sync_methods, async_methods = public_methods(Client), public_methods(AsyncClient)
    missing = sorted(sync_methods.keys() - async_methods.keys())
    assert not missing, f"AsyncClient lacks {missing}"
    for name, signature in sync_methods.items():
        assert async_methods[name] == signature, f"{name}: {async_methods[name]} != {signature}"
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), f"AsyncClient.{name} is not awaited"


def test_async_client_lists_tasks_newest_first_page_by_page(api: Api) -> None:
    app = create_app(api.services.settings, api.services)

    async def scenario() -> None:
        async with async_client_on(app, api.key) as client:
            first = await client.submit([data_uri(make_image())], "pan right", duration=1)
            second = await client.submit([data_uri(make_image())], "pan left", duration=1)
            listed = await client.list_tasks()
            assert [t["task"]["task_id"] for t in listed["tasks"]] == [second, first]
            page = await client.list_tasks(limit=1)
            assert [t["task"]["task_id"] for t in page["tasks"]] == [second]
            rest = await client.list_tasks(limit=1, cursor=page["next_cursor"])
            assert [t["task"]["task_id"] for t in rest["tasks"]] == [first]
            await client.cancel(first)
            queued = await client.list_tasks(status="TASK_STATUS_QUEUED")
            assert [t["task"]["task_id"] for t in queued["tasks"]] == [second]
            with pytest.raises(ApiError) as refused:
                await client.list_tasks(status="SLEEPING")
            assert refused.value.code == 400 and refused.value.metadata["field"] == "status"

    asyncio.run(scenario())


def test_async_client_downloads_a_finished_video(api: Api, tmp_path: Path) -> None:
    result = finished_task(api)
    app = create_app(api.services.settings, api.services)

    async def scenario() -> Path:
        async with async_client_on(app, api.key) as client:
            return await client.download(result, tmp_path / "out.mp4")

    info = probe(asyncio.run(scenario()))
    assert info["frames"] == 24 and info["codec"] == "h264"


def test_async_client_download_of_a_refused_link_raises_and_writes_nothing(api: Api, tmp_path: Path) -> None:
    result = finished_task(api)
    link = result["videos"][0]["video_url"]
    tampered = {"videos": [{"video_url": link.replace("signature=", "signature=0")}]}
    app = create_app(api.services.settings, api.services)

    async def scenario() -> None:
        async with async_client_on(app, api.key) as client:
            await client.download(tampered, tmp_path / "out.mp4")

    with pytest.raises(ApiError) as refused:
        asyncio.run(scenario())
    assert refused.value.code == 403
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.s3
def test_async_client_follows_the_redirect_to_the_bucket(s3_settings: Settings, tmp_path: Path) -> None:
    services = build_services(s3_settings)
    _record, key = services.store.keys.create("alice")
    app = create_app(s3_settings, services)

    async def scenario() -> Path:
        async with async_client_on(app, key) as client:
            task_id = await client.submit([data_uri(make_image())], "tilt up", duration=1)
            assert Worker(s3_settings, services.store, services.objects).run_once()
            result = await client.wait(task_id, timeout=5, interval=0.01)
            assert result["videos"][0]["video_url"].startswith("http://testserver/"), "vidgate's own link"
            return await client.download(result, tmp_path / "from-s3.mp4")

    info = probe(asyncio.run(scenario()))
    assert info["frames"] == 24 and info["codec"] == "h264"


@dataclass
class StorageHost:
    """A real HTTP server standing in for a bucket: the signed link redirects to the object."""

    signed_url: str
    video: bytearray = field(default_factory=bytearray)
    authorization_headers: list[str | None] = field(default_factory=list)  # one per request


@pytest.fixture
def storage_host() -> Iterator[StorageHost]:
    host: StorageHost

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host.authorization_headers.append(self.headers.get("Authorization"))
            if self.path == "/signed":
                self.send_response(302)
                self.send_header("Location", "/bucket/video.mp4")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(host.video)))
            self.end_headers()
            self.wfile.write(host.video)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as port:
        host = StorageHost(f"http://127.0.0.1:{port}/signed")
        yield host


def download_sync(key: str, result: dict[str, Any], target: Path) -> Path:
    with Client("http://vidgate.invalid", key) as client:
        return client.download(result, target)


def download_async(key: str, result: dict[str, Any], target: Path) -> Path:
    async def scenario() -> Path:
        async with AsyncClient("http://vidgate.invalid", key) as client:
            return await client.download(result, target)

    return asyncio.run(scenario())


@pytest.mark.parametrize("download", [download_sync, download_async])
def test_download_sends_the_storage_host_no_key_and_follows_its_redirect(
    api: Api, storage_host: StorageHost, tmp_path: Path, download: Callable[[str, dict[str, Any], Path], Path]
) -> None:
    storage_host.video += api.client.get(finished_task(api)["videos"][0]["video_url"]).content
    result = {"videos": [{"video_url": storage_host.signed_url}]}
    info = probe(download(api.key, result, tmp_path / "out.mp4"))
    assert info["frames"] == 24
    assert storage_host.authorization_headers == [None, None], "the signed link and the redirect, no key"
