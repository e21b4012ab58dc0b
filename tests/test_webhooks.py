"""Webhooks: signed per Standard Webhooks (checked with the reference library), durable, retried."""

from __future__ import annotations

import json
from datetime import UTC

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from support.api import Api
from support.media import data_uri, make_image
from support.servers import Receiver
from vidgate import clock
from vidgate.settings import new_webhook_secret
from vidgate.store.outbox import SEND_LEASE_MS
from vidgate.webhooks import RETRY_DELAYS_S, WebhookSender, sign, signed_headers
from vidgate.worker.runner import Worker


def submit_and_finish(api: Api, url: str) -> str:
    body = {
        "images": [data_uri(make_image())],
        "prompt": "x",
        "duration": 1,
        "extra": {"webhook": {"url": url}},
    }
    task_id = api.submit(body).json()["task_id"]
    assert Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    return task_id


def sender(
    api: Api, base_url: str = "http://vidgate.test", retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
) -> WebhookSender:
    secret = api.services.settings.resolved_webhook_secret()
    s = api.services
    return WebhookSender(s.store, s.results, s.fetcher, secret, base_url, retry_delays_s=retry_delays_s)


def test_the_result_is_delivered_signed_once(api: Api, receiver: Receiver) -> None:
    task_id = submit_and_finish(api, receiver.url)
    with httpx.Client() as http:
        assert sender(api).deliver_due(http) == 1
        assert sender(api).deliver_due(http) == 0, "delivered means delivered once"
    ((headers, body),) = receiver.received
    verified = Webhook(api.services.settings.resolved_webhook_secret()).verify(body, headers)
    assert verified["task"]["task_id"] == task_id and verified["task"]["status"] == "TASK_STATUS_SUCCEED"
    assert verified["videos"][0]["video_url"].startswith("http://vidgate.test/v3/files/")
    assert headers["webhook-id"] == f"msg_{task_id}" and headers["host"] == receiver.url.split("/")[2]
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)


def test_the_body_is_the_task_result_document_byte_for_byte(api: Api, receiver: Receiver) -> None:
    task_id = submit_and_finish(api, receiver.url)
    with clock.frozen(clock.now()), httpx.Client() as http:  # one expiry for the delivery and the read
        assert sender(api, base_url="").deliver_due(http) == 1
        ((_headers, body),) = receiver.received
        assert json.loads(body)["videos"], "a succeeded task: its signed video link is compared too"
        assert body == api.result(task_id).content


def test_failures_are_retried_with_the_same_id_then_given_up(api: Api, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 500]
    task_id = submit_and_finish(api, receiver.url)
    outbox = api.services.store.webhooks
    with httpx.Client() as http:
        for _ in range(3):
            assert sender(api, retry_delays_s=(0, 0)).deliver_due(http, limit=1) == 1
        assert outbox.claim_due() is None, "after the last retry the delivery is failed, not retried"
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert ids == {f"msg_{task_id}"} and len(receiver.received) == 3


def test_a_crashed_sender_leaves_the_delivery_to_another(api: Api, receiver: Receiver) -> None:
    submit_and_finish(api, receiver.url)
    outbox = api.services.store.webhooks
    first = outbox.claim_due()  # this sender stalls holding the lease
    assert first is not None and outbox.claim_due() is None
    with clock.moved(SEND_LEASE_MS / 1000 + 1):  # after the lease ran out
        second = outbox.claim_due()
        assert second is not None and second[0] == first[0]
        assert outbox.record_attempt(second[0], second[1], True, RETRY_DELAYS_S) == "delivered"
        void = outbox.record_attempt(first[0], first[1], False, RETRY_DELAYS_S)
        assert void is None, "the stalled sender's outcome is void"


def test_video_links_use_the_url_the_task_was_submitted_to(api: Api, receiver: Receiver) -> None:
    submit_and_finish(api, receiver.url)
    with httpx.Client() as http:
        assert sender(api, base_url="").deliver_due(http) == 1
    document = json.loads(receiver.received[0][1])
    assert document["videos"][0]["video_url"].startswith("http://testserver/v3/files/")


def test_tasks_without_a_webhook_send_nothing(api: Api, receiver: Receiver) -> None:
    task_id = api.submit({"images": [data_uri(make_image())], "prompt": "x", "duration": 1}).json()["task_id"]
    Worker(api.services.settings, api.services.store, api.services.objects).run_once()
    with httpx.Client() as http:
        assert sender(api).deliver_due(http) == 0
    assert receiver.received == [] and task_id


def test_cancelled_and_failed_tasks_are_delivered_too(api: Api, receiver: Receiver) -> None:
    body = {"images": [data_uri(make_image())], "prompt": "x", "extra": {"webhook": {"url": receiver.url}}}
    task_id = api.submit(body).json()["task_id"]
    api.client.post("/v3/async/task-cancel", params={"task_id": task_id}, headers=api.headers)
    with httpx.Client() as http:
        assert sender(api).deliver_due(http) == 1
    document = json.loads(receiver.received[0][1])
    assert document["task"]["status"] == "TASK_STATUS_FAILED" and document["task"]["reason"] == "CANCELED"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "not a url", "http://10.0.0.1/hook", "http://[::1]/x"]
)
def test_bad_webhook_urls_are_refused_at_submit(api: Api, url: str) -> None:
    api.services.settings.allow_private_urls = False
    body = {"images": [data_uri(make_image())], "prompt": "x", "extra": {"webhook": {"url": url}}}
    response = api.submit(body)
    assert response.status_code == 400 and response.json()["reason"] == "INVALID_REQUEST_BODY"
    assert response.json()["metadata"]["field"] == "extra.webhook.url"


def test_signature_matches_the_reference_implementation() -> None:
    from datetime import datetime

    secret = new_webhook_secret()
    body = b'{"task": {"task_id": "t"}}'
    ours = sign(secret, "msg_1", 1_700_000_000, body)
    theirs = Webhook(secret).sign("msg_1", datetime.fromtimestamp(1_700_000_000, tz=UTC), body.decode())
    assert ours == theirs


def test_headers_verify_over_the_exact_bytes_of_a_non_ascii_body() -> None:
    """The library signs text: the bytes sent must be the bytes signed, accents and emoji included."""
    secret = new_webhook_secret()
    body = '{"prompt": "café 😀 说话", "n": 1}'.encode()
    headers = signed_headers(secret, "msg_2", body, now=clock.now())
    assert Webhook(secret).verify(body, headers)["prompt"] == "café 😀 说话"
    assert headers["content-type"] == "application/json" and headers["webhook-id"] == "msg_2"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"caf", b"cav"), headers)
