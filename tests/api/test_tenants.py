"""Tenants stay apart, keys and result URLs resist tampering, quotas answer 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from security.cases_api import API_CASES, ApiCase, Tenants, two_tenants
from support.api import Api
from support.media import data_uri, make_image
from vidgate.tasks.limits import KeyLimits


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    with two_tenants(Path(tmp_path_factory.mktemp("tenants"))) as running:
        yield running


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.attack)
def test_attack(tenants: Tenants, case: ApiCase) -> None:
    assert case.run(tenants) == case.expect


def test_a_refused_submit_is_the_envelope_with_retry_after(api: Api) -> None:
    _, secret = api.services.store.keys.create("greedy", "greedy", KeyLimits(rate=1, rate_period_s=60))
    body = {"images": [data_uri(make_image())], "prompt": "x"}
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.submit(body, headers).status_code == 200
    refused = api.submit(body, headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert refused.json() == {
        "code": 429,
        "reason": "RATE_LIMIT_EXCEEDED",
        "message": "This key may submit 1 task per 60 s; slow down.",
        "metadata": {"retry_after": 60, "limit": 1, "period_s": 60, "quota": "rate"},
    }


def test_polling_is_never_rate_limited(api: Api) -> None:
    _, secret = api.services.store.keys.create("poller", "poller", KeyLimits(rate=1, rate_period_s=3600))
    headers = {"Authorization": f"Bearer {secret}"}
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x"}, headers).json()["task_id"]
    for _ in range(30):
        response = api.client.get("/v3/async/task-result", params={"task_id": task_id}, headers=headers)
        assert response.status_code == 200


def test_a_revoked_key_stops_at_once_even_mid_burst(api: Api) -> None:
    record, secret = api.services.store.keys.create("leaky", "leaky", KeyLimits(rate=100, rate_period_s=60))
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"images": [data_uri(make_image())], "prompt": "x"}
    assert api.submit(body, headers).status_code == 200
    api.services.store.keys.revoke(record.id)
    assert api.submit(body, headers).json()["reason"] == "INVALID_API_KEY"


def test_a_client_over_its_limit_is_refused_before_its_images_are_decoded(api: Api) -> None:
    _, secret = api.services.store.keys.create("flood", "flood", KeyLimits(concurrency=1))
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.submit({"images": [data_uri(make_image())], "prompt": "x"}, headers).status_code == 200
    junk = api.submit({"images": ["data:image/png;base64,AAAA"], "prompt": "x"}, headers)
    assert junk.status_code == 429, "refused for the quota, not for the image it never decoded"
