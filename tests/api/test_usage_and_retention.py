"""Usage and retention through the HTTP API: `GET /v3/usage` (the caller's tenant only), the usage
counters in /metrics, and an expired task's answer and video link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from support.api import Api
from support.media import data_uri, make_image
from vidgate import clock
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.worker.gc import collect_garbage
from vidgate.worker.runner import Worker


def usage(api: Api, headers: dict[str, str] | None = None, **params: str):  # type: ignore[no-untyped-def]
    return api.client.get("/v3/usage", params=params, headers=api.headers if headers is None else headers)


def submit(api: Api, seed: int = 0) -> str:
    response = api.submit({"images": [data_uri(make_image(seed=seed))], "prompt": "zoom in", "duration": 1})
    assert response.status_code == 200, response.text
    return str(response.json()["task_id"])


@pytest.fixture
def api(settings: Settings, database_url: str) -> Iterator[Api]:
    """The API on SQLite and on PostgreSQL."""
    services = build_services(settings.model_copy(update={"database_url": database_url}))
    _record, key = services.store.keys.create("alice")
    with TestClient(create_app(services.settings, services)) as client:
        yield Api(client, services, key, {"Authorization": f"Bearer {key}"})
    services.store.engine.dispose()


@pytest.fixture
def ran(api: Api) -> tuple[str, str]:
    """One task run to SUCCEED by a worker, one cancelled while queued: (succeeded id, cancelled id)."""
    done = submit(api)
    assert Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    cancelled = submit(api, seed=1)
    assert api.client.post(
        "/v3/async/task-cancel", params={"task_id": cancelled}, headers=api.headers
    ).is_success
    return done, cancelled


def test_usage_reports_the_callers_tenant_by_day_key_and_engine(api: Api, ran: tuple[str, str]) -> None:
    body = usage(api, group_by="day,key,engine").json()
    today = datetime.now(UTC).date()  # a run across midnight UTC may see the day change: read it here
    key_id = api.services.store.keys.authenticate(api.key).id  # type: ignore[union-attr]
    assert body["tenant_id"] == "alice" and body["group_by"] == ["day", "key", "engine"]
    assert body["until"] == today.isoformat() and body["since"] == (today - timedelta(days=29)).isoformat()
    (row,) = body["rows"]
    assert (row["day"], row["key_id"], row["engine"]) == (today.isoformat(), key_id, "motion")
    assert (row["submitted"], row["succeeded"], row["failed"], row["cancelled"]) == (2, 1, 0, 1)
    assert row["video_seconds"] == 1.0 and row["render_seconds"] > 0
    assert body["totals"] == {name: row[name] for name in body["totals"]}
    totals = usage(api, group_by="").json()
    assert totals["rows"] == [body["totals"]] and totals["group_by"] == []
    later = {
        "since": (today + timedelta(days=1)).isoformat(),
        "until": (today + timedelta(days=9)).isoformat(),
    }
    assert usage(api, **later).json()["rows"] == []


def test_usage_never_shows_another_tenants_figures(api: Api, ran: tuple[str, str]) -> None:
    _record, other = api.services.store.keys.create("bob")
    body = usage(api, headers={"Authorization": f"Bearer {other}"}).json()
    assert body["tenant_id"] == "bob" and body["rows"] == []
    assert body["totals"]["submitted"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2030-02-30"}, "until"),
        ({"since": "2030-01-02", "until": "2030-01-01"}, "since"),
        ({"since": "2020-01-01", "until": "2030-01-01"}, "since"),
        ({"group_by": "day,tenant"}, "group_by"),
    ],
)
def test_a_bad_usage_query_is_a_400_envelope(api: Api, params: dict[str, str], field: str) -> None:
    response = usage(api, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["reason"] == "INVALID_REQUEST_BODY" and body["metadata"]["field"] == field
    assert field in body["message"]


def test_usage_needs_a_key(api: Api) -> None:
    response = usage(api, headers={})
    assert response.status_code == 401 and response.json()["reason"] == "MISSING_API_KEY"


def test_metrics_count_usage_by_engine(api: Api, ran: tuple[str, str]) -> None:
    text = api.client.get("/metrics").text
    assert 'vidgate_usage_tasks_total{engine="motion",outcome="submitted"} 2.0' in text
    assert 'vidgate_usage_tasks_total{engine="motion",outcome="succeeded"} 1.0' in text
    assert 'vidgate_usage_tasks_total{engine="motion",outcome="cancelled"} 1.0' in text
    assert 'vidgate_usage_video_seconds_total{engine="motion"} 1.0' in text
    assert re.search(r'vidgate_usage_render_seconds_total\{engine="motion"\} [0-9.]+', text)


def test_an_expired_task_keeps_its_answer_and_its_link_says_410(api: Api, ran: tuple[str, str]) -> None:
    done, _cancelled = ran
    (video,) = api.result(done).json()["videos"]
    assert api.client.get(video["video_url"]).status_code == 200
    with clock.moved(31 * 60):  # past a 30 min retention, within the link's hour
        report = collect_garbage(api.services.store, api.services.objects, 30 * 60)
        assert (report.videos, report.inputs) == (1, 2)
        answer = api.result(done).json()
        assert answer["task"]["status"] == "TASK_STATUS_SUCCEED"
        assert answer["videos"] == [] and answer["extra"]["expired"] is True
        gone = api.client.get(video["video_url"])
    assert gone.status_code == 410
    assert gone.json()["reason"] == "FILE_EXPIRED" and gone.json()["code"] == 410
    assert "retention" in gone.json()["message"]
    never = api.client.get(video["video_url"].replace(done, "0" * 8 + done[8:]))
    assert never.status_code == 403, "a link that was never issued is still refused by its signature"
