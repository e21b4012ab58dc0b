"""A small Python SDK for vidgate (and any server speaking the same contract), sync and async.

    from vidgate.client import Client
    with Client("http://127.0.0.1:8000", api_key) as client:
        task_id = client.submit(["photo.jpg"], "slow zoom in", duration=5)  # or URLs, or bytes
        result = client.wait(task_id)
        client.download(result, "out.mp4")

Errors come back as `ApiError` carrying the contract's envelope (code, reason, message, metadata).
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import httpx

from vidgate.schemas import SUBMIT_PATH
from vidgate.tasks.model import TERMINAL_STATUSES

TERMINAL = tuple(status.wire for status in TERMINAL_STATUSES)
# What `submit` takes for each image: an http(s) URL or data: URI as is, a local file (a path, or a
# str that is not a URL), or the image's bytes; files and bytes go up as data: URIs.
ImageInput: TypeAlias = str | os.PathLike[str] | bytes
REMOTE_PREFIXES = ("http://", "https://", "data:")
# The first bytes of each format the contract accepts, so bytes name their type without a filename.
MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code, self.reason, self.message, self.metadata = code, reason, message, metadata or {}


class TaskFailed(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(f"task {result['task']['task_id']} failed: {result['task']['reason']}")
        self.result = result


def _check(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    if isinstance(body, dict) and "reason" in body:
        raise ApiError(response.status_code, body["reason"], body.get("message", ""), body.get("metadata"))
    raise ApiError(response.status_code, "HTTP_ERROR", response.text[:200])


def image_reference(image: ImageInput) -> str:
    """The contract's image string for one `submit` input: URLs and data: URIs unchanged, a local
    file or raw bytes as a `data:image/...;base64,` URI. A missing file raises FileNotFoundError
    here, before anything is sent."""
    if isinstance(image, str) and image.startswith(REMOTE_PREFIXES):
        return image
    if isinstance(image, bytes):
        data, suffix_type = image, None
    else:
        path = Path(image)
        data, suffix_type = path.read_bytes(), mimetypes.guess_type(path.name)[0]
    media_type = _sniff(data) or suffix_type or "image/png"  # the server checks the bytes anyway
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((media_type for magic, media_type in MAGIC if data.startswith(magic)), None)


def _submit_body(
    images: ImageInput | Sequence[ImageInput], prompt: str, options: dict[str, Any]
) -> dict[str, Any]:
    if isinstance(images, str | bytes | os.PathLike):
        images = [images]  # one image given bare: a str is a sequence too, of characters
    references = [image_reference(image) for image in images]
    return {"images": references, "prompt": prompt} | {k: v for k, v in options.items() if v is not None}


def _finished(result: dict[str, Any]) -> bool:
    """True when the task succeeded; raises TaskFailed when it failed; False while it runs."""
    status = result["task"]["status"]
    if status == "TASK_STATUS_FAILED":
        raise TaskFailed(result)
    return status in TERMINAL


def _headers(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def _list_params(status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    return {k: v for k, v in {"status": status, "limit": limit, "cursor": cursor}.items() if v is not None}


def _video_request(http: httpx.Client | httpx.AsyncClient, result: dict[str, Any]) -> httpx.Request:
    """The GET of a finished task's first video; the signed URL needs no API key."""
    request = http.build_request("GET", result["videos"][0]["video_url"])
    del request.headers["Authorization"]  # the URL may point at a storage host: never send it the key
    return request


class Client:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0, http: httpx.Client | None = None
    ) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def submit(
        self,
        images: ImageInput | Sequence[ImageInput],
        prompt: str,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        """Submit a task; options are the contract's fields (duration, resolution, seed, ...) and
        `extra` (e.g. `extra={"engine": "motion"}`). Images: URLs, local paths or bytes."""
        body = _submit_body(images, prompt, options)
        return str(
            _check(self.http.post(SUBMIT_PATH, json=body, headers=_headers(idempotency_key)))["task_id"]
        )

    def result(self, task_id: str) -> dict[str, Any]:
        return _check(self.http.get("/v3/async/task-result", params={"task_id": task_id}))

    def cancel(self, task_id: str) -> dict[str, Any]:
        return _check(self.http.post("/v3/async/task-cancel", params={"task_id": task_id}))

    def list_tasks(
        self, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> dict[str, Any]:
        return _check(self.http.get("/v3/async/tasks", params=_list_params(status, limit, cursor)))

    def wait(self, task_id: str, *, timeout: float = 600.0, interval: float = 0.5) -> dict[str, Any]:
        """Poll until the task is terminal; raises TaskFailed on failure, TimeoutError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.result(task_id)
            if _finished(result):
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} not finished after {timeout} s")
            time.sleep(interval)

    def download(self, result: dict[str, Any], path: str | Path) -> Path:
        """Save the first video of a finished task (the signed URL needs no API key)."""
        target = Path(path)
        # A server keeping videos in a bucket redirects to it: follow (httpx sends no key across hosts).
        response = self.http.send(_video_request(self.http, result), stream=True, follow_redirects=True)
        try:
            if not response.is_success:
                response.read()
                _check(response)
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        finally:
            response.close()
        return target


class AsyncClient:
    def __init__(
        self, base_url: str, api_key: str, *, timeout: float = 30.0, http: httpx.AsyncClient | None = None
    ) -> None:
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def aclose(self) -> None:
        """The same as close, under the name asyncio code (and httpx) uses."""
        await self.close()

    async def submit(
        self,
        images: ImageInput | Sequence[ImageInput],
        prompt: str,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> str:
        body = _submit_body(images, prompt, options)
        response = await self.http.post(SUBMIT_PATH, json=body, headers=_headers(idempotency_key))
        return str(_check(response)["task_id"])

    async def result(self, task_id: str) -> dict[str, Any]:
        return _check(await self.http.get("/v3/async/task-result", params={"task_id": task_id}))

    async def cancel(self, task_id: str) -> dict[str, Any]:
        return _check(await self.http.post("/v3/async/task-cancel", params={"task_id": task_id}))

    async def list_tasks(
        self, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> dict[str, Any]:
        return _check(await self.http.get("/v3/async/tasks", params=_list_params(status, limit, cursor)))

    async def wait(self, task_id: str, *, timeout: float = 600.0, interval: float = 0.5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            result = await self.result(task_id)
            if _finished(result):
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} not finished after {timeout} s")
            await asyncio.sleep(interval)

    async def download(self, result: dict[str, Any], path: str | Path) -> Path:
        """Save the first video of a finished task (the signed URL needs no API key)."""
        target = Path(path)
        # A server keeping videos in a bucket redirects to it: follow (httpx sends no key across hosts).
        response = await self.http.send(_video_request(self.http, result), stream=True, follow_redirects=True)
        try:
            if not response.is_success:
                await response.aread()
                _check(response)
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        finally:
            await response.aclose()
        return target
