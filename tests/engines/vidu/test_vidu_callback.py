"""The provider's signed callbacks: vidgate's check against the fake's own signing, and callbacks as
hints that make the engine poll sooner."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from engines.vidu.vidu_support import MemoryState, make_job, render
from fakes.vidu_provider import FakeVidu
from vidgate.engines.vidu.callback import CALLBACK_PATH, callback_url, sign_callback, verify_callback
from vidgate.engines.vidu.engine import ViduEngine
from vidgate.errors import InvalidCallbackSignature

KEY = "callback-key"
PATH, QUERY = CALLBACK_PATH, "task_id=t-1"


def test_a_signed_callback_verifies_and_gives_its_body() -> None:
    headers = sign_callback(PATH, QUERY, KEY)
    assert verify_callback(headers, PATH, QUERY, b'{"id": "1", "state": "success"}', KEY) == {
        "id": "1",
        "state": "success",
    }


def test_header_names_are_matched_case_insensitively() -> None:
    headers = {name.upper(): value for name, value in sign_callback(PATH, QUERY, KEY).items()}
    assert verify_callback(headers, PATH, QUERY, b"{}", KEY) == {}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h, p, q: (h, p, "task_id=t-2"), "does not match"),  # another task's URL
        (lambda h, p, q: (h, "/elsewhere", q), "does not match"),
        (lambda h, p, q: ({**h, "x-request-nonce": "other"}, p, q), "does not match"),
        (lambda h, p, q: ({**h, "X-HMAC-SIGNATURE": "AAAA"}, p, q), "does not match"),
        (lambda h, p, q: ({**h, "X-HMAC-ALGORITHM": "hmac-md5"}, p, q), "algorithm"),
        (lambda h, p, q: ({**h, "X-HMAC-ACCESS-KEY": "other"}, p, q), "access key"),
        (lambda h, p, q: ({**h, "X-HMAC-SIGNED-HEADERS": "Date"}, p, q), "signed headers"),
        (lambda h, p, q: ({k: v for k, v in h.items() if k != "X-HMAC-SIGNATURE"}, p, q), "missing"),
        (lambda h, p, q: ({k: v for k, v in h.items() if k != "Date"}, p, q), "missing header(s) Date"),
    ],
)
def test_a_tampered_or_incomplete_callback_is_refused(
    change: Callable[[dict[str, str], str, str], tuple[dict[str, str], str, str]], why: str
) -> None:
    headers, path, query = change(sign_callback(PATH, QUERY, KEY), PATH, QUERY)
    with pytest.raises(InvalidCallbackSignature) as refused:
        verify_callback(headers, path, query, b"{}", KEY)
    assert why in refused.value.message and refused.value.status == 401


def test_another_key_a_stale_date_or_a_bad_body_are_refused() -> None:
    with pytest.raises(InvalidCallbackSignature, match="does not match"):
        verify_callback(sign_callback(PATH, QUERY, "other-key"), PATH, QUERY, b"{}", KEY)
    with pytest.raises(InvalidCallbackSignature, match="from now"):
        verify_callback(sign_callback(PATH, QUERY, KEY), PATH, QUERY, b"{}", KEY, now=time.time() + 3600)
    with pytest.raises(InvalidCallbackSignature, match="not JSON"):
        verify_callback(sign_callback(PATH, QUERY, KEY), PATH, QUERY, b"{nope", KEY)
    with pytest.raises(InvalidCallbackSignature, match="no API key"):
        verify_callback(sign_callback(PATH, QUERY, ""), PATH, QUERY, b"{}", "")


@contextlib.contextmanager
def receiver(api_key: str, on_task: Callable[[dict[str, Any]], None]) -> Iterator[str]:
    """What the API's route does with a callback: verify it (401 if bad), then hand the body on."""
    answers: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                task = verify_callback(dict(self.headers.items()), parts.path, parts.query, body, api_key)
            except InvalidCallbackSignature:
                status = 401
            else:
                on_task(task)
                status = 200
            answers.append(status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("signature", "status"), [("good", 200), ("bad", 401), ("stale", 401), ("missing", 401)]
)
def test_the_fakes_own_signatures_are_checked_alike(fake: FakeVidu, signature: str, status: int) -> None:
    received: list[dict[str, Any]] = []
    with receiver(fake.api_key, received.append) as base:
        answer = fake.post_callback(callback_url(base, "t-9"), {"id": "1", "state": "processing"}, signature)
    assert answer.status_code == status
    assert received == ([{"id": "1", "state": "processing"}] if status == 200 else []), (
        "a bad one changes nothing"
    )


def test_callbacks_make_the_engine_poll_sooner(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    state = MemoryState()
    fake.step_seconds = 0.15  # the task moves on by itself, and the fake calls back at each change
    fake.states = ["created", "processing", "success"]
    fake.send_callbacks = True

    def push(task: dict[str, Any]) -> None:
        state.pushed_event = task

    with receiver(fake.api_key, push) as base:
        engine = make_engine(public_base_url=base, vidu_poll_interval=20.0, vidu_poll_max_interval=20.0)
        started = time.monotonic()
        result = render(engine, make_job(tmp_path, state=state, task_id="t-cb"))
        took = time.monotonic() - started
    assert result.frames > 0 and took < 5, "a 20 s poll interval, cut short by the callbacks"
    assert {status for _url, status in fake.callbacks_sent} == {200}
    assert all(url.endswith("?task_id=t-cb") for url, _status in fake.callbacks_sent)
    assert state.pushed_event is not None and state.pushed_event["payload"] == "t-cb"
    assert len(fake.calls("creations")) <= 4, "polled on news, not in a loop"
