"""Shared fixtures: settings in a temp folder, the store on SQLite and PostgreSQL, an API client with a
key, images, and real HTTP servers on 127.0.0.1 for image URLs and webhooks. What they are built
from lives in the `support` package."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from support.api import Api
from support.databases import POSTGRES_URL, postgres_engine
from support.s3 import S3_CREDENTIALS, s3_client
from support.servers import ImageServer, Receiver, webhook_receiver
from support.servers import image_server as serve_images
from vidgate.api.service import Services
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.store.db import migrate, open_engine
from vidgate.store.sql import SqlTaskStore


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    if request.param == "postgres":
        postgres_engine().dispose()
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


@pytest.fixture
def api(settings: Settings, services: Services) -> Iterator[Api]:
    _record, key = services.store.keys.create("alice")
    with TestClient(create_app(settings, services)) as client:
        yield Api(client, services, key, {"Authorization": f"Bearer {key}"})


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    with serve_images() as served:
        yield served


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as served:
        yield served


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
