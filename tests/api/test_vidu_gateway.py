"""vidgate as a gateway: a task routed to the vidu engine through the API and a real worker, against
the fake provider on 127.0.0.1; the provider's signed callbacks reach the task's engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engines.vidu.vidu_support import vidu_settings
from fakes.vidu_provider import API_KEY, FakeVidu, running_fake
from support.api import Api
from support.media import data_uri, make_image, probe
from vidgate.app import build_services, create_app
from vidgate.engines.vidu.callback import CALLBACK_PATH, sign_callback
from vidgate.settings import Settings
from vidgate.tasks.model import TaskStatus
from vidgate.worker.runner import Worker


@pytest.fixture
def fake() -> Iterator[FakeVidu]:
    with running_fake() as served:
        yield served


@pytest.fixture
def gateway(tmp_path: Path, fake: FakeVidu) -> Iterator[Api]:
    settings = vidu_settings(
        tmp_path, fake, engines=["motion", "vidu"], allow_private_urls=True, lease_seconds=5
    )
    services = build_services(settings)
    _record, key = services.store.keys.create("alice")
    with TestClient(create_app(settings, services)) as client:
        yield Api(client, services, key, {"Authorization": f"Bearer {key}"})


@pytest.fixture
def workers(gateway: Api) -> Iterator[list[Worker]]:
    made: list[Worker] = []
    yield made
    for worker in made:
        worker.close()


@pytest.fixture
def vidu_worker(gateway: Api, workers: list[Worker]) -> Worker:
    s = gateway.services
    workers.append(Worker(s.settings, s.store, s.objects, engines=["vidu"]))
    return workers[-1]


def submit(api: Api, **fields: object) -> str:
    body = {"images": [data_uri(make_image())], "prompt": "a lighthouse at dusk", "duration": 2}
    response = api.submit(body | fields)
    assert response.status_code == 200, response.text
    return str(response.json()["task_id"])


def test_a_vidu_task_runs_upstream_once_and_is_served_as_our_own_video(
    gateway: Api, fake: FakeVidu, vidu_worker: Worker, tmp_path: Path
) -> None:
    task_id = submit(
        gateway,
        extra={"engine": "vidu"},
        movement_amplitude="high",
        seed=7,
        bgm=True,
        watermark=True,
        resolution="540p",
    )
    queued = gateway.result(task_id).json()
    assert queued["extra"]["engine"] == "vidu" and queued["task"]["status"] == "TASK_STATUS_QUEUED"
    assert vidu_worker.run_once()
    document = gateway.result(task_id).json()
    assert document["task"]["status"] == "TASK_STATUS_SUCCEED", document["task"]["reason"]
    (create,) = fake.creates  # exactly one upstream create
    assert create.path == "/ent/v2/img2video" and create.headers["authorization"] == f"Token {API_KEY}"
    sent = create.body
    assert sent["movement_amplitude"] == "large" and sent["seed"] == 7 and sent["resolution"] == "540p"
    assert sent["bgm"] is True and sent["watermark"] is True and sent["payload"] == task_id
    upstream_id = next(iter(fake.tasks))
    assert document["extra"]["provider_request_id"] == upstream_id
    assert document["extra"]["upstream"]["credits"] == fake.credits
    video = gateway.client.get(document["videos"][0]["video_url"])
    assert video.status_code == 200
    (tmp_path / "out.mp4").write_bytes(video.content)
    assert probe(tmp_path / "out.mp4")["frames"] > 0, "our copy of the provider's video, checked"
    assert "voice_id_used" not in document["extra"], "the provider made the sound: vidgate's is not added"


@pytest.mark.s3
def test_inputs_in_a_bucket_reach_the_provider_as_presigned_urls(
    tmp_path: Path, fake: FakeVidu, s3_settings: Settings
) -> None:
    vidu = vidu_settings(tmp_path, fake, engines=["motion", "vidu"])
    settings = s3_settings.model_copy(update={name: getattr(vidu, name) for name in vidu.model_fields_set})
    services = build_services(settings)
    _record, key = services.store.keys.create("alice")
    with TestClient(create_app(settings, services)) as client:
        api = Api(client, services, key, {"Authorization": f"Bearer {key}"})
        task_id = submit(api, extra={"engine": "vidu"})
        worker = Worker(settings, services.store, services.objects, engines=["vidu"])
        try:
            assert worker.run_once()
        finally:
            worker.close()
        assert api.result(task_id).json()["task"]["status"] == "TASK_STATUS_SUCCEED"
    (create,) = fake.creates
    (sent,) = create.body["images"]
    assert sent.startswith(settings.s3_endpoint_url) and "Signature" in sent, (
        "a presigned URL, not the pixels"
    )


def test_a_motion_worker_leaves_vidu_tasks_to_vidu_workers(gateway: Api, fake: FakeVidu) -> None:
    vidu_task = submit(gateway, extra={"engine": "vidu"})
    motion_task = submit(gateway, duration=1)
    s = gateway.services
    motion = Worker(s.settings, s.store, s.objects, engines=["motion"])
    assert motion.run_once() and not motion.run_once(), "it takes its own task and no other"
    assert gateway.result(vidu_task).json()["task"]["status"] == "TASK_STATUS_QUEUED"
    assert gateway.result(motion_task).json()["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert fake.creates == []


def test_requests_the_engine_cannot_serve_are_refused_at_submit(gateway: Api, fake: FakeVidu) -> None:
    image = data_uri(make_image())
    both = {"images": [image], "prompt": "x", "audio": True, "off_peak": True, "extra": {"engine": "vidu"}}
    refused = gateway.submit(both).json()
    assert refused["code"] == 400 and "off_peak" in refused["message"] and "vidu" in refused["message"]
    unknown = gateway.submit({"images": [image], "prompt": "x", "extra": {"engine": "diffusers"}}).json()
    assert unknown["reason"] == "INVALID_REQUEST_BODY" and unknown["metadata"]["field"] == "extra.engine"
    assert unknown["metadata"]["allowed"] == ["motion", "vidu"]
    too_many = gateway.submit({"images": [image] * 8, "prompt": "x", "extra": {"engine": "vidu"}}).json()
    assert too_many["metadata"] == {"field": "images", "engine": "vidu", "allowed": {"min": 1, "max": 7}}
    assert fake.creates == [] and gateway.services.store.list_tasks("alice") == []


def test_the_provider_speaks_for_itself_so_vidgates_speech_rules_do_not_apply(gateway: Api) -> None:
    gateway.services.settings.speech = False  # no eSpeak on this host,
    gateway.services.settings.strict_voices = True  # and only catalogue voices for vidgate's own speech
    line = {"prompt": 'She says: "We should go home now."', "audio": True, "voice_id": "vidu_voice_123"}
    assert gateway.submit({"images": [data_uri(make_image())], **line}).status_code == 400, "motion refuses"
    task_id = submit(gateway, extra={"engine": "vidu"}, **line)
    task = gateway.services.store.get_task(task_id)
    assert task is not None and task.params.voice_id == "vidu_voice_123", "forwarded as given"


def test_a_key_pinned_to_an_engine_runs_there_and_nowhere_else(gateway: Api) -> None:
    _record, pinned = gateway.services.store.keys.create("bob", engine="vidu")
    headers = {"Authorization": f"Bearer {pinned}"}
    body = {"images": [data_uri(make_image())], "prompt": "x", "duration": 1}
    task_id = gateway.submit(body, headers=headers).json()["task_id"]
    task = gateway.services.store.get_task(task_id)
    assert task is not None and task.engine == "vidu"
    elsewhere = gateway.submit(body | {"extra": {"engine": "motion"}}, headers=headers).json()
    assert elsewhere["code"] == 400 and "this API key may use" in elsewhere["message"]
    assert elsewhere["metadata"]["allowed"] == ["vidu"]


def test_engines_lists_limits_and_whether_a_worker_serves_each(gateway: Api) -> None:
    listed = {engine["name"]: engine for engine in gateway.client.get("/v3/engines").json()["engines"]}
    assert set(listed) == {"motion", "vidu"} and listed["motion"]["default"]
    assert listed["vidu"]["limits"]["max_images"] == 7 and listed["vidu"]["limits"]["max_running"] == 5
    assert listed["vidu"]["limits"]["renders_itself"] == ["audio", "bgm", "watermark"]
    assert not listed["vidu"]["served"] and gateway.client.get("/readyz").json()[
        "engines_without_workers"
    ] == [
        "motion",
        "vidu",
    ]
    gateway.services.store.workers.announce("w1", ["vidu"])
    listed = {engine["name"]: engine for engine in gateway.client.get("/v3/engines").json()["engines"]}
    assert listed["vidu"]["served"] and listed["vidu"]["workers"] == 1 and not listed["motion"]["served"]
    metrics = gateway.client.get("/metrics").text
    assert 'vidgate_engine_workers{engine="vidu"} 1.0' in metrics
    assert 'vidgate_engine_workers{engine="motion"} 0.0' in metrics
    assert "vidgate_upstream_create_uncertain_tasks 0.0" in metrics


def callback(
    api: Api, task_id: str, body: bytes, key: str = API_KEY, signed_path: str = CALLBACK_PATH
) -> object:
    query = f"task_id={task_id}"
    headers = sign_callback(signed_path, query, key) | {"Content-Type": "application/json"}
    return api.client.post(f"{CALLBACK_PATH}?{query}", content=body, headers=headers)


def test_signed_callbacks_are_recorded_for_the_engine_and_bad_ones_change_nothing(gateway: Api) -> None:
    task_id = submit(gateway, extra={"engine": "vidu"})
    store = gateway.services.store
    forged = callback(gateway, task_id, b'{"id": "1", "state": "success"}', key="not-the-key")
    assert forged.status_code == 401 and forged.json()["reason"] == "INVALID_CALLBACK_SIGNATURE"  # type: ignore[attr-defined]
    assert store.engine_event(task_id) is None, "a refused callback changes nothing"
    good = callback(
        gateway, task_id, b'{"id": "1", "state": "processing", "payload": "' + task_id.encode() + b'"}'
    )
    assert good.status_code == 200 and good.json() == {"recorded": True}  # type: ignore[attr-defined]
    assert store.engine_event(task_id) == {"id": "1", "state": "processing", "payload": task_id}
    gateway.services.settings.public_base_url = "https://video.example.com/gateway"  # behind a proxy
    body = b'{"id": "1", "state": "success", "payload": "' + task_id.encode() + b'"}'
    prefixed = callback(gateway, task_id, body, signed_path=f"/gateway{CALLBACK_PATH}")
    assert prefixed.status_code == 200, "signed for the public URL, received without its prefix"  # type: ignore[attr-defined]
    assert callback(gateway, task_id, body).status_code == 401  # type: ignore[attr-defined]
    unknown = callback(
        gateway, "00000000-0000-4000-8000-000000000000", b"{}", signed_path=f"/gateway{CALLBACK_PATH}"
    )
    assert unknown.status_code == 404  # type: ignore[attr-defined]


def cancel_while_upstream(api: Api, fake: FakeVidu, worker: Worker) -> str:
    """Submit a vidu task the provider never finishes, and cancel it once it runs upstream."""
    fake.states = ["created", "queueing", "processing"]
    task_id = submit(api, extra={"engine": "vidu"})
    running = threading.Thread(target=worker.run_once)
    running.start()
    deadline = time.monotonic() + 10
    while not fake.tasks and time.monotonic() < deadline:
        time.sleep(0.02)
    cancelled = api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    assert cancelled.status_code == 200
    running.join(timeout=15)
    return task_id


def test_cancelling_a_running_vidu_task_cancels_it_upstream(
    gateway: Api, fake: FakeVidu, vidu_worker: Worker
) -> None:
    task_id = cancel_while_upstream(gateway, fake, vidu_worker)
    task = gateway.services.store.get_task(task_id)
    assert task is not None and task.status is TaskStatus.FAILED and task.reason == "CANCELED"
    assert fake.calls("cancel") and next(iter(fake.tasks.values())).cancelled
    assert task.result_info["provider_request_id"] == next(iter(fake.tasks))


def test_a_provider_that_refuses_the_cancel_is_said_in_extra(
    gateway: Api, fake: FakeVidu, vidu_worker: Worker
) -> None:
    fake.cancel_refused = True
    task_id = cancel_while_upstream(gateway, fake, vidu_worker)
    document = gateway.result(task_id).json()
    assert document["task"]["reason"] == "CANCELED"
    assert "credits" in document["extra"]["upstream_cancel"], document["extra"]


def test_a_create_left_uncertain_by_a_dead_worker_is_never_repeated_and_is_counted(
    gateway: Api, fake: FakeVidu, vidu_worker: Worker
) -> None:
    task_id = submit(gateway, extra={"engine": "vidu"})
    store = gateway.services.store
    claimed = store.claim("dead-worker", 0.01, engines=["vidu"])  # it died after sending the create
    assert claimed is not None and store.save_engine_state(
        task_id, claimed.attempt, {"create_started": True}, {}
    )
    time.sleep(0.05)  # its lease runs out
    assert vidu_worker.run_once()
    reason = gateway.result(task_id).json()["task"]["reason"]
    assert reason.startswith("UPSTREAM_CREATE_UNCERTAIN: ") and fake.creates == []
    assert "vidgate_upstream_create_uncertain_tasks 1.0" in gateway.client.get("/metrics").text


def test_a_provider_failure_is_a_reason_a_client_can_match(
    gateway: Api, fake: FakeVidu, vidu_worker: Worker
) -> None:
    fake.states = ["created", "failed"]
    fake.err_code = "AuditSubmitIllegal"
    task_id = submit(gateway, extra={"engine": "vidu"})
    assert vidu_worker.run_once()
    reason = gateway.result(task_id).json()["task"]["reason"]
    assert reason.startswith("CONTENT_POLICY_VIOLATION: ") and API_KEY not in reason


def test_settings_without_the_vidu_key_cannot_enable_the_engine(tmp_path: Path) -> None:
    from vidgate.engines import check_deployment

    settings = Settings(data_dir=tmp_path, engines=["motion", "vidu"], _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="VIDGATE_VIDU_API_KEY"):
        check_deployment(settings)
