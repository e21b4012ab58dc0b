"""A fake of the official Vidu API as a real HTTP server on 127.0.0.1, written from its public shapes
(platform.vidu.com's API reference, as summarised in issue 12):

- `POST /ent/v2/img2video` (1 image), `/ent/v2/start-end2video` (2), `/ent/v2/reference2video` (1..7),
  `Authorization: Token <key>`, JSON body at most 20 MB -> `{"task_id", "state": "created", "credits"}`;
- `GET /ent/v2/tasks/{id}/creations` -> `{"id", "state", "err_code", "credits", "creations": [...]}`,
  whose URLs expire;
- `POST /ent/v2/tasks/{id}/cancel` -> `{}`, or 400 when the task can no longer be cancelled;
- errors as `{"code", "reason", "message", "metadata": {"trace_id"}}`;
- callbacks: the task body POSTed to `callback_url`, HMAC-signed with the key (signed here on its own,
  from the documented string, not with vidgate's code, so that the two are checked against each other).

It records every request, and tests script it: `script(kind, reply...)` answers the next requests of a
kind ("create", "creations", "cancel", "video") with the given replies (errors, 429 with
Retry-After, malformed bodies, slow answers); `states` is the life of each new task (advancing one
state per poll, or every `step_seconds`); `cancel_refused`, `url_lifetime` and `video` shape the rest.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.server
import itertools
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np

from vidgate.media.encode import encode_frames

API_KEY = "vidu-test-key-0123456789abcdef"
MAX_BODY = 20 * 1024 * 1024
CREATE_PATHS = {
    "/ent/v2/img2video": (1, 1),
    "/ent/v2/start-end2video": (2, 2),
    "/ent/v2/reference2video": (1, 7),
}
VIDEO_SIZE = (160, 96)
VIDEO_FRAMES = 12


@cache
def tiny_mp4() -> bytes:
    """A real H.264 MP4 (160x96, 12 frames at 24 fps), made once per test session."""
    width, height = VIDEO_SIZE
    frames = (np.full((height, width, 3), (i * 20) % 256, np.uint8) for i in range(VIDEO_FRAMES))
    with TemporaryDirectory() as folder:
        path = Path(folder) / "creation.mp4"
        encode_frames(frames, path, width, height, fps=24, quality="fast")
        return path.read_bytes()


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a dict (sent as JSON) or bytes (sent as they are)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: a slow provider


def error(status: int, reason: str, message: str = "", retry_after: str | None = None) -> Reply:
    """A reply in the provider's error envelope."""
    body = {"code": status, "reason": reason, "message": message or reason, "metadata": {"trace_id": "t-1"}}
    return Reply(status, body, {"Retry-After": retry_after} if retry_after is not None else {})


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any  # the parsed JSON, or None
    size: int
    at: float  # time.monotonic() when it arrived


@dataclass
class FakeTask:
    id: str
    states: list[str]
    body: dict[str, Any]
    created_at: float
    step_seconds: float | None
    polls: int = 0
    cancelled: bool = False
    last_announced: str = ""

    def state(self) -> str:
        if self.cancelled:
            return "failed"
        if self.step_seconds is not None:
            steps = int((time.monotonic() - self.created_at) / self.step_seconds)
        else:
            steps = self.polls
        return self.states[min(steps, len(self.states) - 1)]


class FakeVidu:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.tasks: dict[str, FakeTask] = {}
        self.states = ["created", "queueing", "processing", "success"]
        self.step_seconds: float | None = None  # None: one state per poll
        self.err_code = ""  # of tasks that end "failed"
        self.credits = 20
        self.cancel_refused = False
        self.url_lifetime = 3600.0  # seconds a creation URL works after the poll that gave it
        self.video = tiny_mp4()
        self.video_headers: dict[str, str] = {}
        self.send_callbacks = False
        self.callbacks_sent: list[tuple[str, int]] = []  # (url, status of the answer)
        self.base_url = ""
        self._scripts: dict[str, deque[Reply]] = {}
        self._ids = itertools.count(880000000000001)
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # Scripting and inspecting.

    def script(self, kind: str, *replies: Reply) -> None:
        self._scripts.setdefault(kind, deque()).extend(replies)

    def calls(self, kind: str) -> list[Recorded]:
        """The recorded requests of a kind: "create", "creations", "cancel" or "video"."""
        return [r for r in self.requests if _kind(r.method, r.path) == kind]

    @property
    def creates(self) -> list[Recorded]:
        return self.calls("create")

    def task_body(self, task: FakeTask) -> dict[str, Any]:
        state = task.state()
        body: dict[str, Any] = {
            "id": task.id,
            "state": state,
            "err_code": ("TaskCanceled" if task.cancelled else self.err_code) if state == "failed" else "",
            "credits": self.credits,
            "payload": task.body.get("payload", ""),
            "creations": [],
        }
        if state == "success":
            expires = time.time() + self.url_lifetime
            body["creations"] = [
                {
                    "id": f"c{task.id}",
                    "url": f"{self.base_url}/files/{task.id}.mp4?expires={expires:.3f}",
                    "cover_url": f"{self.base_url}/files/{task.id}.jpg?expires={expires:.3f}",
                    "watermarked_url": f"{self.base_url}/files/{task.id}-wm.mp4?expires={expires:.3f}",
                }
            ]
        return body

    # Callbacks.

    def post_callback(self, url: str, body: dict[str, Any], signature: str = "good") -> httpx.Response:
        """POST `body` to `url` signed as the provider signs: `signature` "good", "bad" (another key),
        "stale" (a Date an hour old) or "missing" (no signature headers)."""
        parts = urlsplit(url)
        date = formatdate(time.time() - (3600 if signature == "stale" else 0), usegmt=True)
        nonce = secrets.token_hex(8)
        key = "not-the-key" if signature == "bad" else self.api_key
        signed = f"POST\n{parts.path}\n{parts.query}\nvidu\n{date}\nDate:{date}\nx-request-nonce:{nonce}\n"
        digest = base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest()).decode()
        headers = {"Date": date, "x-request-nonce": nonce, "Content-Type": "application/json"}
        if signature != "missing":
            headers |= {
                "X-HMAC-SIGNED-HEADERS": "Date;x-request-nonce",
                "X-HMAC-ALGORITHM": "hmac-sha256",
                "X-HMAC-ACCESS-KEY": "vidu",
                "X-HMAC-SIGNATURE": digest,
            }
        with self._lock:
            if self._http is None:  # one client: each new one loads the CA bundle (~0.1 s)
                self._http = httpx.Client(timeout=5, trust_env=False)
        return self._http.post(url, content=json.dumps(body), headers=headers)

    def _announce(self) -> None:
        """Send a callback for every task whose state changed since the last one (when enabled)."""
        for task in list(self.tasks.values()):
            url = task.body.get("callback_url")
            state = task.state()
            if not (self.send_callbacks and url) or state == task.last_announced:
                continue
            task.last_announced = state
            with contextlib.suppress(httpx.HTTPError):
                self.callbacks_sent.append((url, self.post_callback(url, self.task_body(task)).status_code))

    # Serving.

    def answer(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        kind = _kind(method, path)
        with self._lock:
            self.requests.append(Recorded(method, path, query, headers, body, len(raw), time.monotonic()))
            scripted = self._scripts.get(kind)
            if scripted:
                return scripted.popleft()
        if kind == "video":
            return self._video(path, query)
        if headers.get("authorization") != f"Token {self.api_key}":
            return error(401, "Unauthorized", "invalid token " + headers.get("authorization", ""))
        if kind == "create":
            return self._create(path, body, len(raw))
        task = self.tasks.get(path.split("/")[4]) if kind in ("creations", "cancel") else None
        if task is None:
            return error(404, "TaskNotFound", "no such task")
        if kind == "cancel":
            if self.cancel_refused or task.state() in ("success", "failed"):
                return error(400, "TaskStateInvalid", "the task can no longer be cancelled")
            task.cancelled = True
            return Reply(200, {})
        answer = self.task_body(task)
        task.polls += 1
        return Reply(200, answer)

    def _create(self, path: str, body: Any, size: int) -> Reply:
        low, high = CREATE_PATHS[path]
        if size > MAX_BODY:
            return error(400, "FieldInvalid", "request body larger than 20 MB")
        if not isinstance(body, dict) or not isinstance(body.get("images"), list):
            return error(400, "FieldInvalid", "images is required")
        if not low <= len(body["images"]) <= high:
            return error(400, "FieldInvalid", f"images: {low}..{high} expected")
        task_id = str(next(self._ids))
        self.tasks[task_id] = FakeTask(task_id, list(self.states), body, time.monotonic(), self.step_seconds)
        return Reply(
            200, {"task_id": task_id, "state": "created", "model": body.get("model"), "credits": self.credits}
        )

    def _video(self, path: str, query: str) -> Reply:
        expires = parse_qs(query).get("expires", ["0"])[0]
        if time.time() > float(expires):
            return Reply(403, b"<Error>Request has expired</Error>", {"Content-Type": "application/xml"})
        return Reply(200, self.video, {"Content-Type": "video/mp4", **self.video_headers})


def _kind(method: str, path: str) -> str:
    if method == "POST" and path in CREATE_PATHS:
        return "create"
    if path.startswith("/ent/v2/tasks/") and path.endswith("/creations"):
        return "creations"
    if method == "POST" and path.startswith("/ent/v2/tasks/") and path.endswith("/cancel"):
        return "cancel"
    if path.startswith("/files/"):
        return "video"
    return "unknown"


def _handler(fake: FakeVidu) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = fake.answer(self.command, parts.path, parts.query, headers, raw)
            if reply.delay:
                time.sleep(reply.delay)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            chunked = reply.headers.get("Transfer-Encoding") == "chunked"  # no declared size
            self.send_response(reply.status)
            names = {name.lower() for name in reply.headers}
            if "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            if "content-length" not in names and not chunked:
                self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if not chunked:
                    self.wfile.write(data)
                    return
                for start in range(0, len(data), 65536):
                    piece = data[start : start + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = _serve

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up early (a refused download) is expected here, not news


@contextlib.contextmanager
def running_fake(fake: FakeVidu | None = None) -> Iterator[FakeVidu]:
    """Serve a fake on 127.0.0.1 (a random port) for the duration of the block."""
    fake = fake or FakeVidu()
    server = _QuietServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    stop = threading.Event()

    def announce() -> None:
        while not stop.wait(0.01):
            fake._announce()

    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    threads = [serve, threading.Thread(target=announce)]
    for thread in threads:
        thread.start()
    try:
        yield fake
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        for thread in threads:
            thread.join(timeout=5)
        fake.close()
