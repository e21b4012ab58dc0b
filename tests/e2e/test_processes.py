"""End to end with real processes: `vidgate serve`, `vidgate worker`, `vidgate keys`, over real HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.databases import POSTGRES_URL, postgres_engine
from support.media import data_uri, make_image, moov_before_mdat, probe
from support.processes import start_vidgate, stop_vidgate
from support.servers import ImageServer, Receiver
from vidgate.client import Client
from vidgate.settings import Settings

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vidgate(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidgate", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        **kwargs,
    )  # type: ignore[call-overload]


@dataclass
class Server:
    """A running `vidgate serve`, driven through the Python SDK as a user would."""

    client: Client
    env: dict[str, str]
    data_dir: Path
    pid: int  # of `vidgate serve`

    def submit(self, body: dict[str, Any]) -> str:
        return self.client.submit(**body)

    def result(self, task_id: str) -> dict[str, Any]:
        return self.client.result(task_id)

    def wait(self, task_id: str, timeout: float = 60) -> dict[str, Any]:
        return self.client.wait(task_id, timeout=timeout, interval=0.05)

    def download(self, document: dict[str, Any], to: Path) -> Path:
        return self.client.download(document, to)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_vidgate(env, log, *args)


stop = stop_vidgate


def server_env(tmp_path: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {
        "VIDGATE_DATA_DIR": str(tmp_path / "var"),
        "VIDGATE_ALLOW_PRIVATE_URLS": "true",
        "VIDGATE_PORT": str(free_port()),
        "VIDGATE_DATABASE_URL": database_url,
    }
    return env | extra


@contextlib.contextmanager
def serving(env: dict[str, str], tmp_path: Path, workers: int) -> Iterator[Server]:
    key = vidgate("keys", "create", "--name", "e2e", env=env).stdout.strip()
    assert key.startswith("vg_") and "\n" not in key, "keys create prints only the key"
    process = start(["serve", "--workers", str(workers)], env, tmp_path / "serve.log")
    base_url = f"http://127.0.0.1:{env['VIDGATE_PORT']}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    embedded_workers = [pid for pid in children_of(process.pid) if b"spawn_main" in cmdline(pid)]
    try:
        assert len(embedded_workers) == workers
        with Client(base_url, key) as client:
            yield Server(client, env, Path(env["VIDGATE_DATA_DIR"]), process.pid)
    finally:
        stop(process)
        assert_gone(embedded_workers)


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def assert_gone(pids: list[int], timeout: float = 10) -> None:
    """Embedded workers must not outlive their server."""
    deadline = time.monotonic() + timeout
    while alive := [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]:
        assert time.monotonic() < deadline, f"embedded workers {alive} outlived the server"
        time.sleep(0.1)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(server_env(tmp_path), tmp_path, workers=1) as running:
        yield running


def test_serve_renders_data_uri_and_url_images_into_valid_mp4s(
    server: Server, image_server: ImageServer, tmp_path: Path
) -> None:
    landscape = data_uri(make_image(1280, 720, seed=1))
    portrait_url = image_server.add("/portrait.jpg", make_image(720, 1280, seed=2, fmt="JPEG"), "image/jpeg")
    first = server.submit(
        {"images": [landscape], "prompt": "slow zoom in", "duration": 2, "resolution": "540p"}
    )
    second = server.submit(
        {
            "images": [portrait_url, landscape],
            "prompt": "pan left",
            "duration": 3,
            "resolution": "720p",
            "seed": 9,
        }
    )
    for task_id, duration, size in ((first, 2, (960, 540)), (second, 3, (720, 1280))):
        document = server.wait(task_id)
        assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
        video = server.download(document, tmp_path / f"{task_id}.mp4")
        info = probe(video)
        assert (info["width"], info["height"]) == size
        assert info["frames"] == 24 * duration and info["fps"] == 24
        assert info["duration"] == pytest.approx(duration, abs=0.05)
        assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["audio_streams"] == 0
        assert moov_before_mdat(video)
    assert image_server.hits == {"/portrait.jpg": 1}


def test_same_request_same_seed_gives_byte_identical_video(server: Server, tmp_path: Path) -> None:
    body = {
        "images": [data_uri(make_image(640, 360))],
        "prompt": "orbit",
        "duration": 1,
        "seed": 5,
        "resolution": "540p",
    }
    digests = set()
    for attempt in range(2):
        document = server.wait(server.submit(body))
        video = server.download(document, tmp_path / f"same-{attempt}.mp4")
        digests.add(hashlib.sha256(video.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_the_webhook_arrives_signed_when_the_task_ends(server: Server, receiver: Receiver) -> None:
    from standardwebhooks.webhooks import Webhook

    body = {
        "images": [data_uri(make_image())],
        "prompt": "x",
        "duration": 1,
        "extra": {"webhook": {"url": receiver.url}},
    }
    task_id = server.submit(body)
    server.wait(task_id)
    deadline = time.monotonic() + 10
    while not receiver.received:
        assert time.monotonic() < deadline, "no webhook arrived"
        time.sleep(0.05)
    secret = vidgate("webhook-secret", env=server.env).stdout.strip()
    ((headers, payload),) = receiver.received
    assert Webhook(secret).verify(payload, headers)["task"]["task_id"] == task_id


def test_task_events_stream_progress_until_done(server: Server) -> None:
    body = {"images": [data_uri(make_image(1280, 720))], "prompt": "pan right", "duration": 6}
    task_id = server.submit(body)
    documents = []
    url = f"{server.client.http.base_url}/v3/async/task-events"
    headers = {"Authorization": server.client.http.headers["Authorization"]}
    with httpx.stream("GET", url, params={"task_id": task_id}, headers=headers, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                documents.append(json.loads(line.removeprefix("data: ")))
    statuses = [d["task"]["status"] for d in documents]
    progress = [d["task"]["progress_percent"] for d in documents]
    assert statuses[-1] == "TASK_STATUS_SUCCEED" and statuses.count("TASK_STATUS_SUCCEED") == 1
    assert "TASK_STATUS_PROCESSING" in statuses and progress == sorted(progress)
    assert any(0 < p < 100 for p in progress), progress


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_worker_killed_mid_render_is_replaced_and_the_task_completes_once(
    tmp_path: Path, backend: str
) -> None:
    database_url = ""
    if backend == "postgres":
        postgres_engine().dispose()
        database_url = POSTGRES_URL
    env = server_env(tmp_path, database_url, VIDGATE_LEASE_SECONDS="2", VIDGATE_SWEEP_INTERVAL="0.5")
    with serving(env, tmp_path, workers=0) as api:  # API only; the workers are ours to kill
        task_id = api.submit(
            {
                "images": [data_uri(make_image(1920, 1080))],
                "prompt": "dolly out",
                "duration": 10,
                "resolution": "1080p",
            }
        )
        doomed = start(["worker"], env, tmp_path / "worker-1.log")
        deadline = time.monotonic() + 60
        while api.result(task_id)["task"]["progress_percent"] < 10:
            assert time.monotonic() < deadline and doomed.poll() is None
            time.sleep(0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        assert api.result(task_id)["task"]["status"] == "TASK_STATUS_PROCESSING"

        rescuer = start(["worker"], env, tmp_path / "worker-2.log")
        try:
            document = api.wait(task_id, timeout=120)
        finally:
            stop(rescuer)
        assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
        assert '"attempt": 2' in document["extra"]["debug_info"]["request_info"]
        videos = sorted(p.name for p in (api.data_dir / "objects" / "videos").iterdir())
        assert videos == [f"{task_id}-2.mp4"], "published once, nothing of the killed attempt left"
        assert list((api.data_dir / "work").iterdir()) == [], "no partial files left behind"
        assert probe(api.download(document, tmp_path / "rescued.mp4"))["frames"] == 240


def test_serve_replaces_an_embedded_worker_that_dies_and_its_task_completes(tmp_path: Path) -> None:
    """`make run`'s setup: one embedded worker. Killed mid-render (kill -9, as the out-of-memory
    killer does), it is replaced, and the new worker takes the task up once its lease runs out."""
    env = server_env(tmp_path, VIDGATE_LEASE_SECONDS="2", VIDGATE_SWEEP_INTERVAL="0.5")
    with serving(env, tmp_path, workers=1) as api:
        task_id = api.submit(
            {"images": [data_uri(make_image(1920, 1080))], "prompt": "dolly out", "duration": 8}
        )
        deadline = time.monotonic() + 60
        while api.result(task_id)["task"]["progress_percent"] < 10:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (doomed,) = [pid for pid in children_of(api.pid) if b"spawn_main" in cmdline(pid)]
        os.kill(doomed, signal.SIGKILL)
        while True:  # a new worker, and the dead one reaped (no zombie left)
            workers = [pid for pid in children_of(api.pid) if b"spawn_main" in cmdline(pid)]
            if workers and doomed not in workers:
                break
            assert time.monotonic() < deadline + 30, f"no new worker; children: {workers}"
            time.sleep(0.1)
        document = api.wait(task_id, timeout=120)
        assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
        assert '"attempt": 2' in document["extra"]["debug_info"]["request_info"]
    log = (tmp_path / "serve.log").read_text()
    assert f"embedded worker 0 (pid {doomed}) ended with exit code -9" in log


@pytest.mark.s3
def test_serve_keeps_videos_in_s3_and_the_sdk_downloads_them(tmp_path: Path, s3_settings: Settings) -> None:
    """API and worker processes with no shared folder for videos: the worker uploads to the bucket,
    the SDK follows vidgate's link to it."""
    env = server_env(
        tmp_path,
        VIDGATE_STORAGE_URL=s3_settings.storage_url,
        VIDGATE_S3_ENDPOINT_URL=s3_settings.s3_endpoint_url,
        VIDGATE_S3_REGION=s3_settings.s3_region,
        VIDGATE_S3_ACCESS_KEY_ID=s3_settings.s3_access_key_id,
        VIDGATE_S3_SECRET_ACCESS_KEY=s3_settings.s3_secret_access_key.get_secret_value(),
    )
    with serving(env, tmp_path, workers=1) as server:
        body = {"images": [data_uri(make_image(640, 360))], "prompt": "tilt up", "duration": 1}
        document = server.wait(server.submit(body))
        assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
        info = probe(server.download(document, tmp_path / "from-s3.mp4"))
        assert info["frames"] == 24 and info["codec"] == "h264"
    assert not list((tmp_path / "var").glob("objects/**/*.mp4")), "no video was kept locally"
