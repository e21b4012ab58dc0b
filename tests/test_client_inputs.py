"""The SDK's `submit` takes local files and bytes as well as URLs: they go up as data: URIs, which the
server decodes and checks like any other."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from support.api import Api
from support.media import data_uri, make_image
from vidgate.app import create_app
from vidgate.client import AsyncClient, Client, image_reference


def test_references_of_each_kind(tmp_path: Path) -> None:
    png, jpeg, webp = make_image(fmt="PNG"), make_image(fmt="JPEG"), make_image(fmt="WEBP")
    (tmp_path / "a.png").write_bytes(png)
    assert image_reference(tmp_path / "a.png") == data_uri(png)
    assert image_reference(str(tmp_path / "a.png")) == data_uri(png), "a str that is not a URL is a path"
    assert image_reference(jpeg) == data_uri(jpeg, "jpeg")
    assert image_reference(webp) == data_uri(webp, "webp")
    for remote in ("https://example.com/a.jpg", "http://127.0.0.1/a.png", data_uri(png)):
        assert image_reference(remote) == remote
    (tmp_path / "named.jpg").write_bytes(b"not an image")  # the server refuses it: the type is a guess
    assert image_reference(tmp_path / "named.jpg").startswith("data:image/jpeg;base64,")


def test_a_missing_file_fails_before_sending(api: Api, tmp_path: Path) -> None:
    client = Client("http://testserver", api.key, http=api.client)
    with pytest.raises(FileNotFoundError):
        client.submit([tmp_path / "nope.png"], "pan left")
    assert client.list_tasks()["tasks"] == []


def test_paths_and_bytes_are_submitted_and_stored(api: Api, tmp_path: Path) -> None:
    first, second = make_image(seed=1), make_image(seed=2, fmt="JPEG")
    (tmp_path / "first.png").write_bytes(first)
    client = Client("http://testserver", api.key, http=api.client)
    task_id = client.submit([tmp_path / "first.png", second], "pan left", duration=1)
    task = api.services.store.get_task(task_id)
    assert task is not None and len(task.params.images) == 2
    assert all(ref.startswith("sha256:") for ref in task.params.images), "decoded and stored at submit"


def test_one_bare_path_is_one_image(api: Api, tmp_path: Path) -> None:
    (tmp_path / "only.png").write_bytes(make_image())
    client = Client("http://testserver", api.key, http=api.client)
    task = api.services.store.get_task(client.submit(tmp_path / "only.png", "zoom in"))
    assert task is not None and len(task.params.images) == 1


def test_the_async_client_too(api: Api, tmp_path: Path) -> None:
    (tmp_path / "a.webp").write_bytes(make_image(fmt="WEBP"))
    app = create_app(api.services.settings, api.services)

    async def submit() -> str:
        transport = httpx.ASGITransport(app=app)
        http = httpx.AsyncClient(base_url="http://testserver", transport=transport)
        async with AsyncClient("http://testserver", api.key, http=http) as client:
            return await client.submit([tmp_path / "a.webp"], "tilt up")

    task = api.services.store.get_task(asyncio.run(submit()))
    assert task is not None and task.params.images[0].startswith("sha256:")
