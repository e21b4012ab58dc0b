"""Videos kept in an S3 bucket (a real S3 API: moto's server mode): the worker uploads the render,
task-result hands out vidgate's own signed link, and that link redirects to the bucket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from support.api import Api
from support.media import data_uri, make_image, probe
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.storage.s3 import S3Store
from vidgate.worker.runner import Worker

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_api(s3_settings: Settings) -> Iterator[Api]:
    services = build_services(s3_settings)
    _record, key = services.store.keys.create("alice")
    with TestClient(create_app(s3_settings, services)) as client:
        yield Api(client, services, key, {"Authorization": f"Bearer {key}"})


def finished_video_url(api: Api) -> str:
    body = {"images": [data_uri(make_image())], "prompt": "pan left", "duration": 1, "seed": 3}
    task_id = api.submit(body).json()["task_id"]
    assert Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    document = api.result(task_id).json()
    assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document
    url: str = document["videos"][0]["video_url"]
    return url


def test_the_signed_link_redirects_to_the_bucket_and_the_video_downloads(s3_api: Api, tmp_path: Path) -> None:
    assert isinstance(s3_api.services.objects, S3Store)
    link = finished_video_url(s3_api)
    assert link.startswith("http://testserver/v3/files/videos/"), "clients still get vidgate's own link"
    redirect = s3_api.client.get(link, follow_redirects=False)
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    head = s3_api.client.head(link, follow_redirects=False)  # curl -I: the same redirect
    assert head.status_code == 302 and head.headers["location"].startswith(location.partition("?")[0])
    assert location.startswith(s3_api.services.settings.s3_endpoint_url + "/")
    assert "X-Amz-Signature=" in location
    # The link lives an hour (video_url_ttl); the bucket's URL at most as long, at least a minute.
    expires_in = int(dict(part.split("=") for part in urlsplit(location).query.split("&"))["X-Amz-Expires"])
    assert 60 <= expires_in <= 3600
    video = httpx.get(location)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = tmp_path / "video.mp4"
    path.write_bytes(video.content)
    info = probe(path)
    assert info["frames"] == 24 and info["codec"] == "h264"
    assert not list((s3_api.services.settings.data_dir / "objects").glob("**/*.mp4")), "nothing local"


def test_a_video_gone_from_the_bucket_is_file_not_found(s3_api: Api) -> None:
    link = finished_video_url(s3_api)
    key = urlsplit(link).path.removeprefix("/v3/files/")
    s3_api.services.objects.delete(key)
    response = s3_api.client.get(link, follow_redirects=False)
    assert response.status_code == 404 and response.json()["reason"] == "FILE_NOT_FOUND"


def test_a_tampered_link_is_refused_before_the_bucket_is_asked(s3_api: Api) -> None:
    link = finished_video_url(s3_api)
    response = s3_api.client.get(link.replace("signature=", "signature=0"), follow_redirects=False)
    assert response.status_code == 403 and "location" not in response.headers
