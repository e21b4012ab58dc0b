"""Key tampering, result-URL tampering, cross-tenant reads and quota abuse, against the real app.

Two tenants, alice and bob; alice has one finished task with a video. Each case is one request (or a
few) that an attacker would try, and the observed answer. `tests/api/test_tenants.py` asserts them;
docs/security.md is rendered from the same observations.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

from support.media import data_uri, make_image
from vidgate.api.service import Services
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.tasks.limits import KeyLimits

SUBMIT = "/v3/async/vidu-q2-pro-img2video"
RESULT = "/v3/async/task-result"


@dataclass
class Tenants:
    client: TestClient
    services: Services
    alice: str
    bob: str
    alice_task: str
    video_path: str  # path of alice's signed video URL
    expires: int
    signature: str

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def body(self, **patch: object) -> dict[str, object]:
        return {"images": [data_uri(make_image(64, 48))], "prompt": "zoom in", "duration": 1} | patch

    def video(self, path: str | None = None, **query: object) -> httpx.Response:
        params = {"expires": self.expires, "signature": self.signature} | query
        return self.client.get(
            path or self.video_path, params={k: v for k, v in params.items() if v is not None}
        )


@contextlib.contextmanager
def two_tenants(data_dir: Path | None = None) -> Iterator[Tenants]:
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
        services = build_services(settings)
        _, alice = services.store.keys.create("alice")
        _, bob = services.store.keys.create("bob")
        client = stack.enter_context(TestClient(create_app(settings, services)))
        task_id = client.post(
            SUBMIT,
            json={"images": [data_uri(make_image())], "prompt": "x"},
            headers={"Authorization": f"Bearer {alice}"},
        ).json()["task_id"]
        task = services.store.claim("attacker-test", 30)
        assert task is not None and task.id == task_id
        services.objects.put_bytes(f"videos/{task_id}-1.mp4", b"\x00\x00\x00\x18ftypmp42")
        services.store.complete(task_id, 1, f"videos/{task_id}-1.mp4", {})
        document = client.get(
            RESULT, params={"task_id": task_id}, headers={"Authorization": f"Bearer {alice}"}
        ).json()
        url = urlsplit(document["videos"][0]["video_url"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        yield Tenants(
            client, services, alice, bob, task_id, url.path, int(query["expires"]), query["signature"]
        )
        services.store.engine.dispose()


def answer(response: httpx.Response) -> str:
    """What a client sees: status and reason (or content type), and Retry-After when present."""
    kind = response.headers.get("content-type", "")
    reason = response.json().get("reason", "") if kind.startswith("application/json") else kind
    retry = ", Retry-After set" if "retry-after" in response.headers else ""
    return f"{response.status_code} {reason}".strip() + retry


def _bob_lists(t: Tenants) -> str:
    listed = t.client.get("/v3/async/tasks", headers=t.auth(t.bob)).json()["tasks"]
    return f"200, {sum(d['task']['task_id'] == t.alice_task for d in listed)} of alice's tasks listed"


def _bob_reuses_idempotency_key(t: Tenants) -> str:
    first = t.client.post(SUBMIT, json=t.body(), headers=t.auth(t.alice) | {"Idempotency-Key": "k1"})
    second = t.client.post(SUBMIT, json=t.body(), headers=t.auth(t.bob) | {"Idempotency-Key": "k1"})
    same = first.json()["task_id"] == second.json()["task_id"]
    return f"{second.status_code}, " + ("alice's task returned" if same else "a new task of bob's own")


def _revoked(t: Tenants) -> str:
    record, secret = t.services.store.keys.create("leaked", "alice")
    t.services.store.keys.revoke(record.id)
    return answer(t.client.get(RESULT, params={"task_id": t.alice_task}, headers=t.auth(secret)))


def _over_quota(limits: KeyLimits, tries: int) -> Callable[[Tenants], str]:
    def attack(t: Tenants) -> str:
        _, secret = t.services.store.keys.create("greedy", "greedy", limits)
        answers = [answer(t.client.post(SUBMIT, json=t.body(), headers=t.auth(secret))) for _ in range(tries)]
        return f"{answers.count('200')} accepted, then " + answers[-1]

    return attack


def _tampered_signature(t: Tenants) -> str:
    flipped = ("0" if t.signature[0] != "0" else "1") + t.signature[1:]
    return answer(t.video(signature=flipped))


def _other_path(t: Tenants) -> str:
    t.services.objects.put_bytes("videos/other-task-1.mp4", b"bob's video")
    return answer(t.video("/v3/files/videos/other-task-1.mp4"))


@dataclass(frozen=True)
class ApiCase:
    attack: str
    expect: str
    run: Callable[[Tenants], str]


API_CASES: list[ApiCase] = [
    ApiCase("no Authorization header", "401 MISSING_API_KEY", lambda t: answer(t.client.get(RESULT, params={"task_id": t.alice_task}))),
    ApiCase("unknown key", "403 INVALID_API_KEY", lambda t: answer(t.client.get(RESULT, params={"task_id": t.alice_task}, headers=t.auth("vg_" + "A" * 43)))),
    ApiCase("alice's key with one character changed", "403 INVALID_API_KEY", lambda t: answer(t.client.get(RESULT, params={"task_id": t.alice_task}, headers=t.auth(t.alice[:-1] + ("A" if t.alice[-1] != "A" else "B"))))),
    ApiCase("alice's key prefix (as `keys list` shows it)", "403 INVALID_API_KEY", lambda t: answer(t.client.get(RESULT, params={"task_id": t.alice_task}, headers=t.auth(t.alice[:10])))),
    ApiCase("SQL injection as the key", "403 INVALID_API_KEY", lambda t: answer(t.client.get(RESULT, params={"task_id": t.alice_task}, headers=t.auth("' OR '1'='1")))),
    ApiCase("revoked key", "403 INVALID_API_KEY", _revoked),
    ApiCase("bob reads alice's task", "404 TASK_NOT_FOUND", lambda t: answer(t.client.get(RESULT, params={"task_id": t.alice_task}, headers=t.auth(t.bob)))),
    ApiCase("bob cancels alice's task", "404 TASK_NOT_FOUND", lambda t: answer(t.client.post("/v3/async/task-cancel", params={"task_id": t.alice_task}, headers=t.auth(t.bob)))),
    ApiCase("bob lists tasks", "200, 0 of alice's tasks listed", _bob_lists),
    ApiCase("bob reuses alice's Idempotency-Key", "200, a new task of bob's own", _bob_reuses_idempotency_key),
    ApiCase("bob follows alice's task events", "404 TASK_NOT_FOUND", lambda t: answer(t.client.get("/v3/async/task-events", params={"task_id": t.alice_task}, headers=t.auth(t.bob)))),
    ApiCase("task id with SQL in it", "404 TASK_NOT_FOUND", lambda t: answer(t.client.get(RESULT, params={"task_id": "x' OR '1'='1"}, headers=t.auth(t.bob)))),
    ApiCase("task id with a NUL byte", "404 TASK_NOT_FOUND", lambda t: answer(t.client.get(RESULT, params={"task_id": "a\x00b"}, headers=t.auth(t.bob)))),
    ApiCase("list cursor with a forged task id", "400 INVALID_REQUEST_BODY", lambda t: answer(t.client.get("/v3/async/tasks", params={"cursor": "1_x' OR 1=1"}, headers=t.auth(t.bob)))),
    ApiCase("control: alice's signed video URL", "200 video/mp4", lambda t: answer(t.video())),
    ApiCase("video URL with the signature altered", "403 INVALID_SIGNATURE", _tampered_signature),
    ApiCase("video URL with the expiry extended", "403 INVALID_SIGNATURE", lambda t: answer(t.video(expires=t.expires + 86_400))),
    ApiCase("alice's signature on another task's video", "403 INVALID_SIGNATURE", _other_path),
    ApiCase("video URL without a signature", "403 INVALID_SIGNATURE", lambda t: answer(t.video(signature=None, expires=None))),
    ApiCase("video URL past its expiry", "403 INVALID_SIGNATURE", lambda t: answer(t.video(expires=1_000_000))),
    ApiCase("signature with non-ASCII characters", "403 INVALID_SIGNATURE", lambda t: answer(t.video(signature="é" * 64))),
    ApiCase("path traversal to the signing secret", "403 INVALID_SIGNATURE", lambda t: answer(t.video("/v3/files/%2e%2e/signing-secret"))),
    ApiCase("rate 3/hour, 5 submits at once", "3 accepted, then 429 RATE_LIMIT_EXCEEDED, Retry-After set", _over_quota(KeyLimits(rate=3, rate_period_s=3600), 5)),
    ApiCase("concurrency 2, 4 submits", "2 accepted, then 429 RATE_LIMIT_EXCEEDED, Retry-After set", _over_quota(KeyLimits(concurrency=2), 4)),
    ApiCase("daily 2, 3 submits", "2 accepted, then 429 RATE_LIMIT_EXCEEDED, Retry-After set", _over_quota(KeyLimits(daily=2), 3)),
    ApiCase("body over the 60 MiB cap", "413 REQUEST_BODY_TOO_LARGE", lambda t: answer(t.client.post(SUBMIT, content=b"{" + b" " * t.services.settings.max_request_bytes, headers=t.auth(t.alice) | {"Content-Type": "application/json"}))),
    ApiCase("9 images (cap 8)", "400 INVALID_REQUEST_BODY", lambda t: answer(t.client.post(SUBMIT, json=t.body(images=["https://img.test/a.png"] * 9), headers=t.auth(t.alice)))),
    ApiCase("prompt of 2001 characters", "400 INVALID_REQUEST_BODY", lambda t: answer(t.client.post(SUBMIT, json=t.body(prompt="x" * 2001), headers=t.auth(t.alice)))),
    ApiCase("Idempotency-Key of 256 characters", "400 INVALID_REQUEST_BODY", lambda t: answer(t.client.post(SUBMIT, json=t.body(), headers=t.auth(t.alice) | {"Idempotency-Key": "k" * 256}))),
]  # fmt: skip
