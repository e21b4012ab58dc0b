"""Per-key limits hold across API processes: two `vidgate serve --workers 0` on one database, hammered
at once through both, accept exactly what each key allows and answer the rest 429 with Retry-After."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from support.databases import POSTGRES_URL, postgres_engine
from support.media import data_uri, make_image

pytestmark = pytest.mark.slow

SUBMIT = "/v3/async/vidu-q2-pro-img2video"
ATTEMPTS = 24  # per key, spread over both servers, 12 at a time
LIMITS = {  # key name -> (options, how many submits it allows in this burst)
    "rate": (["--rate", "6/hour"], 6),
    "concurrency": (["--concurrency", "4"], 4),
    "daily": (["--daily", "5"], 5),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _vidgate(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "vidgate", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()


@contextlib.contextmanager
def two_servers(tmp_path: Path, database_url: str) -> Iterator[tuple[list[str], dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_DATA_DIR": str(tmp_path / "var"), "VIDGATE_DATABASE_URL": database_url}
    keys = {
        name: _vidgate(env, "keys", "create", "--name", name, *options)
        for name, (options, _) in LIMITS.items()
    }
    processes, bases = [], []
    log = (tmp_path / "serve.log").open("ab")
    try:
        for _ in range(2):
            port = _free_port()
            command = [sys.executable, "-m", "vidgate", "serve", "--workers", "0", "--port", str(port)]
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        for base, process in zip(bases, processes, strict=True):
            while not _healthy(base):
                assert process.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "serve.log"
                ).read_text()
                time.sleep(0.1)
        yield bases, keys
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=15)
        log.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz").status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_limits_hold_across_two_api_servers(tmp_path: Path, backend: str) -> None:
    database_url = ""
    if backend == "postgres":
        postgres_engine().dispose()
        database_url = POSTGRES_URL
    body = {"images": [data_uri(make_image(64, 48))], "prompt": "zoom in", "duration": 1}
    with two_servers(tmp_path, database_url) as (bases, keys), ThreadPoolExecutor(12) as pool:
        for name, (_options, allowed) in LIMITS.items():
            headers = {"Authorization": f"Bearer {keys[name]}"}

            def submit(i: int, headers: dict[str, str] = headers) -> httpx.Response:
                return httpx.post(bases[i % 2] + SUBMIT, json=body, headers=headers, timeout=30)

            responses = list(pool.map(submit, range(ATTEMPTS)))
            accepted = [r for r in responses if r.status_code == 200]
            refused = [r for r in responses if r.status_code == 429]
            assert len(accepted) == allowed, (
                name,
                [r.text for r in responses if r.status_code not in (200, 429)],
            )
            assert len(refused) == ATTEMPTS - allowed
            assert {r.json()["reason"] for r in refused} == {"RATE_LIMIT_EXCEEDED"}
            assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
            assert {r.json()["metadata"]["quota"] for r in refused} == {name}
            assert {r.url.port for r in accepted} != set() and len({r.url.port for r in responses}) == 2
