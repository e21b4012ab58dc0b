"""The vidu engine through `render()` against the fake provider: the request it sends, the video it
returns, progress and cancel."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engines.vidu.vidu_support import MemoryState, Progress, make_job, render
from fakes.vidu_provider import API_KEY, VIDEO_FRAMES, VIDEO_SIZE, FakeVidu
from vidgate.engines.base import RenderCancelled
from vidgate.engines.vidu.api import MAX_BODY_BYTES
from vidgate.engines.vidu.engine import REFUSED_CANCEL, ViduEngine
from vidgate.engines.vidu.request import JPEG_STEPS, create_request


def test_every_parameter_reaches_the_provider_in_its_terms(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    job = make_job(
        tmp_path, prompt="a fox runs", duration=8, resolution="1080p", movement_amplitude="high", seed=7,
        bgm=True, audio=True, voice_id="English_Warm_Woman", watermark=True, task_id="task-params",
    )  # fmt: skip
    render(engine, job)
    (create,) = fake.creates
    assert create.path == "/ent/v2/img2video"
    assert create.headers["authorization"] == f"Token {API_KEY}"
    body = create.body
    assert {k: v for k, v in body.items() if k != "images"} == {
        "model": "viduq2-pro",
        "prompt": "a fox runs",
        "duration": 8,
        "seed": 7,
        "resolution": "1080p",
        "movement_amplitude": "large",
        "bgm": True,
        "audio": True,
        "voice_id": "English_Warm_Woman",
        "off_peak": False,
        "watermark": True,
        "payload": "task-params",
    }


def test_off_peak_and_model_are_forwarded_and_voice_only_with_audio(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(vidu_model="viduq2-turbo")
    render(
        engine, make_job(tmp_path, off_peak=True, voice_id="English_Warm_Woman", movement_amplitude="small")
    )
    body = fake.creates[0].body
    assert (
        body["off_peak"] is True and body["model"] == "viduq2-turbo" and body["movement_amplitude"] == "small"
    )
    assert "voice_id" not in body and body["audio"] is False
    assert "callback_url" not in body, "no public base URL: no callback"


def test_callback_url_names_the_task_when_a_public_url_is_set(
    tmp_path: Path, fake: FakeVidu, make_engine: Callable[..., ViduEngine]
) -> None:
    engine = make_engine(public_base_url="https://video.example.com/")
    render(engine, make_job(tmp_path, task_id="abc"))
    url = fake.creates[0].body["callback_url"]
    assert url == "https://video.example.com/v3/providers/vidu/callback?task_id=abc"


@pytest.mark.parametrize(
    ("count", "endpoint"),
    [(1, "/ent/v2/img2video"), (2, "/ent/v2/start-end2video"), (3, "/ent/v2/reference2video"),
     (7, "/ent/v2/reference2video")],
)  # fmt: skip
def test_the_image_count_picks_the_endpoint(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine, count: int, endpoint: str
) -> None:
    render(engine, make_job(tmp_path, images=count))
    (create,) = fake.creates
    assert create.path == endpoint and len(create.body["images"]) == count


def test_images_go_as_jpeg_data_uris_of_the_pixels(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    job = make_job(tmp_path, images=2)
    render(engine, job)
    for sent, pixels in zip(fake.creates[0].body["images"], job.images, strict=True):
        assert sent.startswith("data:image/jpeg;base64,")
        decoded = cv2.imdecode(
            np.frombuffer(base64.b64decode(sent.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR
        )
        assert decoded.shape == pixels.shape, "full size: it fits without shrinking"


def test_presigned_urls_are_sent_instead_of_pixels(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    urls = ("https://bucket.example.com/inputs/a?sig=1", "https://bucket.example.com/inputs/b?sig=2")
    render(engine, make_job(tmp_path, images=2, image_urls=urls))
    assert fake.creates[0].body["images"] == list(urls)


def test_large_photos_are_shrunk_until_the_body_fits_20_mb(tmp_path: Path, settings: object) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (2400, 3200, 3), dtype=np.uint8)  # incompressible
    job = make_job(tmp_path, images=3)
    job = type(job)(**{**job.__dict__, "images": [noise, noise, noise]})
    endpoint, body = create_request(job, settings)  # type: ignore[arg-type]
    assert endpoint == "/ent/v2/reference2video" and len(body) <= MAX_BODY_BYTES
    assert JPEG_STEPS[0][1] == 1.0 and len(body) > 0.5 * MAX_BODY_BYTES, "shrunk only as far as needed"


def test_the_video_is_copied_checked_and_tagged(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    job = make_job(tmp_path, seed=99)
    result = render(engine, job)
    assert (result.width, result.height) == VIDEO_SIZE
    assert (result.frames, result.fps) == (VIDEO_FRAMES, 24)
    assert result.path == job.output_path
    with av.open(str(job.output_path)) as container:
        assert container.metadata["generator_engine"] == "vidu"
        assert container.metadata["generator_seed"] == "99"
        assert container.streams.video[0].frames == VIDEO_FRAMES
    assert [c.path for c in fake.calls("video")] == [f"/files/{fake.creates and next(iter(fake.tasks))}.mp4"]


def test_remuxing_keeps_the_providers_pictures_bit_for_bit(
    tmp_path: Path, engine: ViduEngine, fake: FakeVidu
) -> None:
    job = make_job(tmp_path)
    render(engine, job)
    original = tmp_path / "original.mp4"
    original.write_bytes(fake.video)

    def packets(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    assert packets(job.output_path) == packets(original)


def test_a_watermarked_task_takes_the_providers_watermarked_video(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    render(engine, make_job(tmp_path, watermark=True))
    assert fake.calls("video")[0].path.endswith("-wm.mp4")


def test_progress_rises_through_the_upstream_states(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.states = ["created", "queueing", "processing", "processing", "processing", "success"]
    progress = Progress()
    render(engine, make_job(tmp_path), progress)
    fractions = progress.fractions
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions), "strictly rising"
    assert fractions[0] <= 0.05 and fractions[-1] == 1.0
    assert any(0.1 < f < 0.85 for f in fractions), "rises while the provider renders"


def test_state_saves_the_upstream_id_and_public_extra(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    state = MemoryState()
    render(engine, make_job(tmp_path, state=state))
    (upstream_id,) = fake.tasks
    assert state.values["upstream_task_id"] == upstream_id
    assert state.public == {
        "provider_request_id": upstream_id,
        "upstream": {"model": "viduq2-pro", "credits": 20},
    }
    assert state.saves[0] == {"create_started": True}, "recorded before the create was sent"


def test_cancel_while_waiting_cancels_upstream(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    fake.states = ["created", "processing"]  # never finishes
    progress = Progress()
    job = make_job(tmp_path)

    def cancel_on_second_poll() -> bool:
        return len(fake.calls("creations")) >= 2

    with pytest.raises(RenderCancelled) as cancelled:
        engine.render(job, progress, cancel_on_second_poll)
    assert cancelled.value.info == {"upstream_cancel": "cancelled"}
    (cancel,) = fake.calls("cancel")
    assert cancel.body == {"id": next(iter(fake.tasks))}
    assert not job.output_path.exists()


def test_a_refused_cancel_still_cancels_and_says_credits_are_spent(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.states = ["created", "processing"]
    fake.cancel_refused = True
    with pytest.raises(RenderCancelled) as cancelled:
        engine.render(make_job(tmp_path), Progress(), lambda: len(fake.calls("creations")) >= 1)
    assert cancelled.value.info == {"upstream_cancel": REFUSED_CANCEL}
    assert "credits are spent" in REFUSED_CANCEL and len(fake.calls("cancel")) == 1


def test_a_lost_lease_stops_without_cancelling_the_upstream_task(
    tmp_path: Path, fake: FakeVidu, engine: ViduEngine
) -> None:
    fake.states = ["created", "processing"]
    state = MemoryState()
    job = make_job(tmp_path, state=state)

    def lost() -> bool:  # the worker's check is also true when the lease is gone
        if fake.calls("creations"):
            state.lost = True
            return True
        return False

    with pytest.raises(RenderCancelled) as cancelled:
        engine.render(job, Progress(), lost)
    assert cancelled.value.info == {}
    assert fake.calls("cancel") == [], "the next attempt resumes it"


def test_cancel_before_creating_creates_nothing(tmp_path: Path, fake: FakeVidu, engine: ViduEngine) -> None:
    with pytest.raises(RenderCancelled):
        engine.render(make_job(tmp_path), Progress(), lambda: True)
    assert fake.requests == []
