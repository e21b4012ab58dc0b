"""Submit and task-result through the HTTP API: the contract's happy paths and its documents."""

from __future__ import annotations

import time

from support.api import Api
from support.media import data_uri, make_image
from vidgate.worker.runner import Worker


def test_submit_returns_a_task_id_and_the_result_walks_to_succeed(api: Api) -> None:
    response = api.submit(
        {"images": [data_uri(make_image())], "prompt": "zoom in", "duration": 1, "seed": 42}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"task_id"}, "provider_request_id is absent when no upstream ran it"

    queued = api.result(body["task_id"]).json()
    assert queued["task"]["status"] == "TASK_STATUS_QUEUED"
    assert queued["task"]["task_type"] == "VIDU_Q2_PRO_IMG2VIDEO"
    assert queued["task"]["progress_percent"] == 0 and queued["task"]["eta"] >= 1
    assert queued["extra"]["seed"] == "42" and queued["videos"] == [] and queued["audios"] == []
    assert queued["extra"]["debug_info"]["submit_time_ms"].isdigit()

    worker = Worker(api.services.settings, api.services.store, api.services.objects)
    assert worker.run_once()
    done = api.result(body["task_id"]).json()
    assert done["task"]["status"] == "TASK_STATUS_SUCCEED" and done["task"]["reason"] == ""
    assert done["task"]["progress_percent"] == 100 and done["task"]["eta"] == 0
    (video,) = done["videos"]
    assert video["video_type"] == "mp4" and video["video_url_ttl"] == "3600"
    assert video["video_url"].startswith("http://testserver/v3/files/videos/")
    assert int(done["extra"]["debug_info"]["complete_time_ms"]) >= int(
        done["extra"]["debug_info"]["submit_time_ms"]
    )
    download = api.client.get(video["video_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    assert download.content[4:8] == b"ftyp"


def test_no_seed_gets_a_random_one_reported_as_a_string(api: Api) -> None:
    seeds = set()
    for _ in range(3):
        task_id = api.submit({"images": [data_uri(make_image())], "prompt": "pan left"}).json()["task_id"]
        seed = api.result(task_id).json()["extra"]["seed"]
        assert seed.isdigit()
        seeds.add(seed)
    assert len(seeds) > 1


def test_the_seed_documents_body_is_accepted_with_all_its_fields(api: Api) -> None:
    body = {
        "bgm": True,
        "seed": 123,
        "audio": True,
        "images": [data_uri(make_image())],
        "prompt": 'A cat on a sofa says "hello"',
        "duration": 5,
        "off_peak": True,
        "voice_id": "English_Graceful_Lady",
        "watermark": True,
        "resolution": "1080p",
        "movement_amplitude": "large",
        "some_future_field": {"ignored": True},
    }
    response = api.submit(body)
    assert response.status_code == 200
    task = api.services.store.get_task(response.json()["task_id"])
    assert task is not None
    assert task.params.movement_amplitude == "high", "upstream 'large' is an alias of 'high'"
    assert task.params.bgm and task.params.audio and task.params.watermark and task.params.off_peak
    assert task.params.voice_id == "English_Graceful_Lady" and task.params.short_side == 1080


def test_data_uri_images_are_stored_by_content_hash(api: Api) -> None:
    image = make_image()
    first = api.submit({"images": [data_uri(image)], "prompt": "tilt up"}).json()["task_id"]
    second = api.submit({"images": [data_uri(image)], "prompt": "tilt down"}).json()["task_id"]
    refs = [api.services.store.get_task(t).params.images for t in (first, second)]  # type: ignore[union-attr]
    assert refs[0] == refs[1] and refs[0][0].startswith("sha256:")
    assert len(list((api.services.settings.resolved_storage_dir() / "inputs").rglob("*.png"))) == 1


def test_tasks_of_another_tenant_are_not_found(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "orbit"}).json()["task_id"]
    _record, bob = api.services.store.keys.create("bob")
    response = api.client.get(
        "/v3/async/task-result", params={"task_id": task_id}, headers={"Authorization": f"Bearer {bob}"}
    )
    assert response.status_code == 404 and response.json()["reason"] == "TASK_NOT_FOUND"
    assert response.json()["message"] == api.client.get(
        "/v3/async/task-result", params={"task_id": "unknown"}, headers={"Authorization": f"Bearer {bob}"}
    ).json()["message"].replace("unknown", task_id), "same answer as for a task that does not exist"


def test_idempotency_key_gives_the_same_task(api: Api) -> None:
    body = {"images": [data_uri(make_image())], "prompt": "zoom out"}
    first = api.submit(body, headers=api.headers | {"Idempotency-Key": "abc"}).json()["task_id"]
    again = api.submit(body, headers=api.headers | {"Idempotency-Key": "abc"}).json()["task_id"]
    assert first == again
    other = api.submit(body | {"prompt": "zoom in"}, headers=api.headers | {"Idempotency-Key": "abc"})
    assert other.status_code == 409 and other.json()["reason"] == "IDEMPOTENCY_KEY_REUSED"


def test_cancel_a_queued_task(api: Api) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "zoom in"}).json()["task_id"]
    response = api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    assert response.status_code == 200
    assert response.json()["task"]["status"] == "TASK_STATUS_FAILED"
    assert response.json()["task"]["reason"] == "CANCELED"
    missing = api.client.post("/v3/async/task-cancel", params={"task_id": "nope"}, headers=api.headers)
    assert missing.status_code == 404 and missing.json()["reason"] == "TASK_NOT_FOUND"


def test_list_tasks_newest_first_with_cursor_and_status_filter(api: Api) -> None:
    ids = []
    for _ in range(3):
        ids.append(api.submit({"images": [data_uri(make_image())], "prompt": "pan right"}).json()["task_id"])
        time.sleep(0.002)
    page = api.client.get("/v3/async/tasks", params={"limit": 2}, headers=api.headers).json()
    assert [t["task"]["task_id"] for t in page["tasks"]] == ids[::-1][:2]
    rest = api.client.get(
        "/v3/async/tasks", params={"limit": 2, "cursor": page["next_cursor"]}, headers=api.headers
    ).json()
    assert [t["task"]["task_id"] for t in rest["tasks"]] == [ids[0]] and rest["next_cursor"] is None
    queued = api.client.get("/v3/async/tasks", params={"status": "TASK_STATUS_QUEUED"}, headers=api.headers)
    assert len(queued.json()["tasks"]) == 3
    bad = api.client.get("/v3/async/tasks", params={"status": "DONE"}, headers=api.headers)
    assert bad.status_code == 400 and bad.json()["reason"] == "INVALID_REQUEST_BODY"
    for cursor in ("zzz", f"²_{ids[0]}", f"{'9' * 40}_{ids[0]}"):
        bad_cursor = api.client.get("/v3/async/tasks", params={"cursor": cursor}, headers=api.headers)
        assert bad_cursor.status_code == 400 and bad_cursor.json()["reason"] == "INVALID_REQUEST_BODY"


def test_health_endpoints(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {
        "status": "ready",
        "workers": {"motion": 0},
        "engines_without_workers": ["motion"],
    }


def test_a_queued_tasks_eta_adds_up_the_work_ahead_of_it(api: Api) -> None:
    """A short task behind a long one waits for the long one; one being rendered counts its time left."""
    image = data_uri(make_image())
    long_id = api.submit({"images": [image], "prompt": "x", "duration": 10, "resolution": "1080p"}).json()
    short_id = api.submit({"images": [image], "prompt": "x", "duration": 1, "resolution": "540p"}).json()
    long_eta = api.result(long_id["task_id"]).json()["task"]["eta"]
    assert long_eta == 11  # 240 frames at ~45 ms
    assert api.result(short_id["task_id"]).json()["task"]["eta"] == 12, "10.8 s ahead + 0.24 s its own"

    store = api.services.store
    running = store.claim("worker-1", lease_seconds=30)
    assert running is not None and running.id == long_id["task_id"]
    store.set_progress(running.id, running.attempt, 50, eta=4)  # what the worker reports
    assert api.result(running.id).json()["task"]["eta"] == 4
    assert api.result(short_id["task_id"]).json()["task"]["eta"] == 5, "4 s left + 0.24 s its own"
