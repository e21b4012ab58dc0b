"""Shared fixtures: settings in a temp folder, the store on SQLite and PostgreSQL, an API client with a
key, images, and a real HTTP server on 127.0.0.1 for image URLs."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from vidgate.api.service import Services
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.store.db import migrate, open_engine
from vidgate.store.sql import SqlTaskStore

POSTGRES_URL = os.environ.get("VIDGATE_TEST_POSTGRES_URL", "")


@contextlib.contextmanager
def serving_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """A real HTTP server on 127.0.0.1 in a thread; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        allow_private_urls=True,  # tests serve images from 127.0.0.1
        lease_seconds=5,
        poll_interval=0.02,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on 127.0.0.1 for the whole session: moto in server mode, over HTTP."""
    moto_server = pytest.importorskip("moto.server", reason="S3 tests need moto[server] (the dev extra)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


S3_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    boto3 = pytest.importorskip("boto3", reason="S3 tests need boto3 (the dev extra)")
    return boto3.client("s3", endpoint_url=endpoint, **S3_CREDENTIALS)


@pytest.fixture
def s3_settings(settings: Settings, s3_endpoint: str) -> Settings:
    """`settings` with storage in a new, empty bucket of its own (under a prefix, as teams share buckets)."""
    bucket = f"vidgate-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    return settings.model_copy(
        update={
            "storage_url": f"s3://{bucket}/vidgate",
            "s3_endpoint_url": s3_endpoint,
            "s3_region": S3_CREDENTIALS["region_name"],
            "s3_access_key_id": S3_CREDENTIALS["aws_access_key_id"],
            "s3_secret_access_key": SecretStr(S3_CREDENTIALS["aws_secret_access_key"]),
        }
    )


def _postgres_engine():  # type: ignore[no-untyped-def]
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need VIDGATE_TEST_POSTGRES_URL (CI sets it)")
    engine = open_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS tasks, api_keys, alembic_version"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL at VIDGATE_TEST_POSTGRES_URL is unreachable: {exc}")
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    if request.param == "postgres":
        _postgres_engine().dispose()
        return POSTGRES_URL
    return settings.resolved_database_url()


@pytest.fixture
def store(database_url: str) -> Iterator[SqlTaskStore]:
    engine = open_engine(database_url)
    migrate(engine)
    yield SqlTaskStore(engine)
    engine.dispose()


@pytest.fixture
def services(settings: Settings) -> Services:
    return build_services(settings)


@dataclass
class Api:
    client: TestClient
    services: Services
    key: str
    headers: dict[str, str] = field(default_factory=dict)

    def submit(self, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.client.post("/v3/async/vidu-q2-pro-img2video", json=body, headers=headers or self.headers)

    def result(self, task_id: str):  # type: ignore[no-untyped-def]
        return self.client.get("/v3/async/task-result", params={"task_id": task_id}, headers=self.headers)


@pytest.fixture
def api(settings: Settings, services: Services) -> Iterator[Api]:
    _record, key = services.store.create_key("alice")
    with TestClient(create_app(settings, services)) as client:
        yield Api(client, services, key, {"Authorization": f"Bearer {key}"})


@dataclass
class ImageServer:
    """A real HTTP server on 127.0.0.1 serving registered paths; counts hits per path."""

    base_url: str
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    host_headers: list[str] = field(default_factory=list)  # as each request sent it

    def add(self, path: str, body: bytes, content_type: str = "image/png", status: int = 200) -> str:
        self.routes[path] = (status, content_type, body)
        return self.base_url + path


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    server_state: ImageServer

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.hits[self.path] = server_state.hits.get(self.path, 0) + 1
            server_state.host_headers.append(self.headers.get("Host", ""))
            status, content_type, body = server_state.routes.get(self.path, (404, "text/plain", b"nope"))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as port:
        server_state = ImageServer(f"http://127.0.0.1:{port}")
        yield server_state


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records webhook deliveries and answers with `statuses`."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as port:
        state = Receiver(f"http://127.0.0.1:{port}/hooks/vidgate")
        yield state


# Tiny random diffusers model folders (tests/engines/diffusers_models.py), built once per session:
# for the diffusers engine's tests, directly and through the API. Skipped without the extra.
@pytest.fixture(scope="session")
def wan_ti2v_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers", reason="the diffusers extra is not installed")
    from engines.diffusers_models import build_wan_ti2v

    return build_wan_ti2v(tmp_path_factory.mktemp("models") / "wan-ti2v")


@pytest.fixture(scope="session")
def wan_a14b_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers", reason="the diffusers extra is not installed")
    from engines.diffusers_models import build_wan_a14b

    return build_wan_a14b(tmp_path_factory.mktemp("models") / "wan-a14b")


@pytest.fixture(scope="session")
def ltx2_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers", reason="the diffusers extra is not installed")
    from engines.diffusers_models import build_ltx2

    return build_ltx2(tmp_path_factory.mktemp("models") / "ltx2")
