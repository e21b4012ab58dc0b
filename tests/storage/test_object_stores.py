"""One suite for every object store: the local folder, and an S3 bucket behind a real S3 API (moto's
server mode). A backend that passes it can hold vidgate's inputs and videos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from support.s3 import s3_client
from vidgate.settings import Settings
from vidgate.storage import ObjectStore, StorageUnavailable, open_store
from vidgate.storage.local import LocalStore
from vidgate.storage.s3 import S3Store

VIDEO_KEY = "videos/task-1.mp4"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def object_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[ObjectStore]:
    if request.param == "s3":
        settings = request.getfixturevalue("s3_settings")
    store = open_store(settings)
    assert isinstance(store, S3Store if request.param == "s3" else LocalStore)
    yield store


def test_bytes_go_in_and_come_back(object_store: ObjectStore) -> None:
    object_store.put_bytes("inputs/ab/abc.png", b"\x89PNG data")
    assert object_store.exists("inputs/ab/abc.png")
    assert object_store.get_bytes("inputs/ab/abc.png") == b"\x89PNG data"
    object_store.put_bytes("inputs/ab/abc.png", b"replaced")
    assert object_store.get_bytes("inputs/ab/abc.png") == b"replaced"


def test_a_missing_object_is_file_not_found(object_store: ObjectStore) -> None:
    assert not object_store.exists("inputs/no/such.png")
    with pytest.raises(FileNotFoundError):
        object_store.get_bytes("inputs/no/such.png")


def test_put_file_moves_the_file_in(object_store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "render.mp4"
    content = bytes(range(256)) * 4096  # 1 MiB
    source.write_bytes(content)
    object_store.put_file(VIDEO_KEY, source)
    assert not source.exists(), "put_file moves: the scratch file is gone"
    assert object_store.get_bytes(VIDEO_KEY) == content


def test_size_is_the_objects_bytes_or_none(object_store: ObjectStore) -> None:
    object_store.put_bytes("videos/sized.mp4", b"x" * 1234)
    assert object_store.size("videos/sized.mp4") == 1234
    assert object_store.size("videos/absent.mp4") is None


def test_delete_removes_and_never_minds_absence(object_store: ObjectStore) -> None:
    object_store.put_bytes(VIDEO_KEY, b"x")
    object_store.delete(VIDEO_KEY)
    assert not object_store.exists(VIDEO_KEY)
    object_store.delete(VIDEO_KEY)  # a second delete, or of a key never written, is not an error
    object_store.delete("videos/never-written.mp4")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "videos/../../outside", "videos//x"])
def test_keys_that_are_not_ours_are_refused(object_store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError):
        object_store.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        object_store.exists(key)


def test_download_urls(object_store: ObjectStore, tmp_path: Path) -> None:
    """A local store is served by the API (no URL of its own); a bucket hands out a presigned URL
    that a plain HTTP client downloads from, typed as a video, with byte ranges for seeking."""
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\x00\x00\x00\x20ftypisom" + b"v" * 1000)
    object_store.put_file(VIDEO_KEY, source)
    url = object_store.download_url(VIDEO_KEY, 120)
    if isinstance(object_store, LocalStore):
        assert url is None and object_store.local_path(VIDEO_KEY) is not None
        return
    assert url is not None and object_store.local_path(VIDEO_KEY) is None
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content[4:8] == b"ftyp"
    part = httpx.get(url, headers={"Range": "bytes=4-7"})
    assert part.status_code == 206 and part.content == b"ftyp"
    # Signed, for the time asked (moto does not check signatures, so the URL's terms are checked here).
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=120" in url


@pytest.mark.s3
def test_a_head_gets_a_url_signed_for_head(s3_settings: Settings) -> None:
    """S3 signs the method into a presigned URL, so `curl -I` on a GET URL would be refused (moto
    does not check signatures: the two URLs' signatures are compared instead)."""
    store = open_store(s3_settings)
    for _ in range(3):  # both within one second, so that only the method tells them apart
        get, head = store.download_url(VIDEO_KEY, 60), store.download_url(VIDEO_KEY, 60, method="HEAD")
        assert get is not None and head is not None
        get_terms, head_terms = dict(parse_qsl(urlsplit(get).query)), dict(parse_qsl(urlsplit(head).query))
        if get_terms["X-Amz-Date"] == head_terms["X-Amz-Date"]:
            break
    assert get_terms.pop("X-Amz-Signature") != head_terms.pop("X-Amz-Signature")
    assert get_terms == head_terms


@pytest.mark.s3
def test_a_prefix_keeps_two_installs_apart_in_one_bucket(s3_settings: Settings) -> None:
    ours = open_store(s3_settings)
    theirs = open_store(s3_settings.model_copy(update={"storage_url": s3_settings.storage_url + "-other"}))
    ours.put_bytes(VIDEO_KEY, b"ours")
    assert not theirs.exists(VIDEO_KEY)
    bucket = s3_settings.storage_url.removeprefix("s3://").split("/")[0]
    listed = s3_client(s3_settings.s3_endpoint_url).list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listed["Contents"]] == [f"vidgate/{VIDEO_KEY}"]


@pytest.mark.s3
def test_content_types_follow_the_key(s3_settings: Settings) -> None:
    store = open_store(s3_settings)
    store.put_bytes("inputs/ab/abc.png", b"png")
    bucket = s3_settings.storage_url.removeprefix("s3://").split("/")[0]
    head = s3_client(s3_settings.s3_endpoint_url).head_object(Bucket=bucket, Key="vidgate/inputs/ab/abc.png")
    assert head["ContentType"] == "image/png"


@pytest.mark.s3
def test_the_public_endpoint_names_the_host_clients_download_from(s3_settings: Settings) -> None:
    public = s3_settings.model_copy(update={"s3_public_endpoint_url": "https://files.example.com"})
    url = open_store(public).download_url(VIDEO_KEY, 60)
    assert url is not None and url.startswith("https://files.example.com/")


@pytest.mark.s3
def test_a_missing_bucket_or_wrong_endpoint_stops_the_store_at_open(s3_settings: Settings) -> None:
    missing = s3_settings.model_copy(update={"storage_url": "s3://no-such-bucket-here"})
    with pytest.raises(StorageUnavailable, match="'no-such-bucket-here' is not reachable"):
        open_store(missing)
    unreachable = s3_settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9"})
    with pytest.raises(StorageUnavailable, match="is not reachable"):
        open_store(unreachable)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"storage_url": "s3://"}, "storage_url"),
        ({"storage_url": "gs://bucket"}, "storage_url"),
        ({"storage_url": "s3://Bucket_Name"}, "storage_url"),
        ({"storage_url": "s3://bucket", "storage_dir": "/srv/objects"}, "not both"),
        ({"storage_url": "s3://bucket", "s3_access_key_id": "AKIA"}, "needs s3_secret_access_key"),
    ],
)
def test_storage_settings_are_checked_at_start(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(data_dir=tmp_path, _env_file=None, **fields)  # type: ignore[arg-type, call-arg]
