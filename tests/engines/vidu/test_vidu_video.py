"""Copying the provider's video: size cap, address rules, expiring URLs, and only a real MP4 passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engines.vidu.vidu_support import make_job, render
from fakes.vidu_provider import FakeVidu, Reply
from vidgate import errors
from vidgate.engines.base import RenderError
from vidgate.engines.vidu.engine import ViduEngine
from vidgate.engines.vidu.video import inspect_video


def success_with_url(fake: FakeVidu, url: str) -> Reply:
    return Reply(200, {"id": "1", "state": "success", "credits": 20, "creations": [{"id": "c", "url": url}]})


def test_a_video_over_the_cap_is_refused(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_max_video_bytes=len(fake.video) - 1)
    job = make_job(tmp_path)
    with pytest.raises(RenderError) as failed:
        render(engine, job)
    assert (
        failed.value.reason == errors.UPSTREAM_VIDEO_TOO_LARGE
        and "VIDGATE_VIDU_MAX_VIDEO_BYTES" in failed.value.message
    )
    assert list(tmp_path.glob("*.mp4*")) == [] and list(tmp_path.glob(".*")) == [], "no partial file left"


def test_the_cap_holds_when_the_size_is_not_declared(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_max_video_bytes=4096)
    fake.video = b"\0" * 100_000
    fake.video_headers = {"Transfer-Encoding": "chunked"}  # no Content-Length to refuse it by
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_VIDEO_TOO_LARGE


def test_a_private_address_is_refused_unless_the_provider_host_is_allowed(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_allow_provider_host=False)
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_DOWNLOAD_FAILED
    assert "not a public address" in failed.value.message
    assert fake.calls("video") == [], "nothing was fetched"


def test_under_the_fetchers_rules_the_checked_address_is_the_one_connected_to(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_allow_provider_host=False, allow_private_urls=True)
    port = fake.base_url.rsplit(":", 1)[1]
    fake.script("creations", success_with_url(fake, f"http://localhost:{port}/files/1.mp4?expires=9e12"))
    assert render(engine, make_job(tmp_path)).frames > 0
    (video,) = fake.calls("video")
    assert video.headers["host"] == f"localhost:{port}", "connected by address, the host named in Host"


def test_allowing_the_provider_host_allows_no_other(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    port = fake.base_url.rsplit(":", 1)[1]
    fake.script("creations", success_with_url(fake, f"http://localhost:{port}/files/1.mp4?expires=9e12"))
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_DOWNLOAD_FAILED and "'localhost'" in failed.value.message
    assert fake.calls("video") == []


def test_a_redirect_is_followed_and_each_hop_checked(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.script("video", Reply(302, b"", {"Location": "/files/moved.mp4?expires=9e12"}))
    assert render(engine, make_job(tmp_path)).frames > 0
    assert [c.path for c in fake.calls("video")][-1] == "/files/moved.mp4"


def test_an_expired_url_is_asked_for_again_once(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script("video", Reply(403, b"<Error>Request has expired</Error>"))
    assert render(engine, make_job(tmp_path)).frames > 0
    assert len(fake.calls("video")) == 2 and fake.calls("creations")[-1].at > fake.calls("video")[0].at


def test_urls_that_keep_expiring_fail_the_task(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.url_lifetime = -1  # every URL the fake hands out has already expired
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_DOWNLOAD_FAILED and "HTTP 403" in failed.value.message
    assert len(fake.calls("video")) == 2


def test_a_failing_file_server_fails_the_task(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.script("video", Reply(500, b"boom"))
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_DOWNLOAD_FAILED and "HTTP 500" in failed.value.message


def audio_only_mp4(path: Path) -> bytes:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "stereo"
        for index in range(10):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((2, 1024), np.float32), format="fltp", layout="stereo"
            )
            frame.rate, frame.pts, frame.time_base = 48000, index * 1024, Fraction(1, 48000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["garbage", "truncated", "audio only"])
def test_only_an_mp4_with_a_video_stream_is_accepted(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine, kind: str
) -> None:
    fake.video = {
        "garbage": b"this is not a video at all" * 100,
        "truncated": fake.video[: len(fake.video) // 3],
        "audio only": audio_only_mp4(tmp_path / "audio.mp4"),
    }[kind]
    job = make_job(tmp_path)
    with pytest.raises(RenderError) as failed:
        render(engine, job)
    assert failed.value.reason == errors.UPSTREAM_VIDEO_INVALID, failed.value.message


def test_inspect_reports_the_files_own_facts(tmp_path: Path, fake: FakeVidu) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(fake.video)
    facts = inspect_video(path)
    assert (facts.width, facts.height, facts.frames, facts.fps) == (160, 96, 12, 24)


def test_a_download_slower_than_its_timeout_fails(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_download_timeout=0.2)
    fake.script("video", Reply(200, fake.video, {"Content-Type": "video/mp4"}, delay=0.6))
    started = time.monotonic()
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_DOWNLOAD_FAILED and time.monotonic() - started < 2
    assert "took too long" in failed.value.message


def test_a_video_host_that_refuses_connections_fails_in_words(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.script("creations", success_with_url(fake, "http://127.0.0.1:9/files/1.mp4"))
    with pytest.raises(RenderError) as failed:
        render(engine, make_job(tmp_path))
    assert failed.value.reason == errors.UPSTREAM_DOWNLOAD_FAILED
    assert "the connection was refused" in failed.value.message
