"""Webhooks: the task-result document POSTed to `extra.webhook.url` when a task ends.

Signed per the Standard Webhooks spec (https://www.standardwebhooks.com), by its reference library
(`standardwebhooks`): headers `webhook-id` (stable across retries, so receivers can de-duplicate),
`webhook-timestamp` (unix seconds) and `webhook-signature` = `v1,<base64 HMAC-SHA256(secret,
"{id}.{timestamp}.{body}")>`, where the secret is `whsec_<base64 key>` (`vidgate webhook-secret`
prints it). The body is sent exactly as signed: the bytes of the task-result document.

Delivery is durable: the task row is the outbox (`store/outbox.py`). Any worker process runs a
sender thread that claims due deliveries with a compare-and-set (a lease, as for tasks), POSTs, and
records the outcome: 2xx = delivered; anything else is retried with backoff (5 s, 30 s, 2 min,
10 min, 30 min, 1 h, 2 h), then marked failed. A crash mid-send leaves the lease to expire and
another sender retries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from vidgate import clock
from vidgate.inputs.fetch import ImageFetcher
from vidgate.results import ResultDocuments
from vidgate.store.database import is_unavailable
from vidgate.store.sql import SqlTaskStore

log = logging.getLogger("vidgate.webhooks")
RETRY_DELAYS_S = (5, 30, 120, 600, 1800, 3600, 7200)
TIMEOUT_S = 10.0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<signature>` of `body`. The library signs text; our bodies are JSON, so UTF-8, and it
    encodes the text back to these same bytes."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret).sign(message_id, moment, body.decode("utf-8"))


def signed_headers(secret: str, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else clock.now())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


class WebhookSender:
    """A thread that delivers due webhooks until `stop` is set."""

    def __init__(
        self,
        store: SqlTaskStore,
        results: ResultDocuments,
        fetcher: ImageFetcher,
        secret: str,
        base_url: str,
        interval: float = 1.0,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self.store, self.results, self.fetcher = store, results, fetcher
        self.secret, self.base_url, self.interval = secret, base_url, interval
        self.retry_delays_s = retry_delays_s

    def run(self, stop: threading.Event) -> None:
        # trust_env=False: a proxy from the environment would connect on our behalf, to anything.
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as http:
            while not stop.is_set():
                try:
                    sent = self.deliver_due(http)
                except Exception as exc:  # an outage is one line per interval, a fault its traceback
                    log.warning("webhook delivery loop error: %s", exc, exc_info=not is_unavailable(exc))
                    sent = 0
                if not sent:
                    stop.wait(self.interval)

    def deliver_due(self, http: httpx.Client, limit: int = 10) -> int:
        """Deliver up to `limit` due webhooks, one claim at a time; returns how many were tried."""
        tried = 0
        while tried < limit and (claim := self.store.webhooks.claim_due()) is not None:
            task_id, lease = claim
            tried += 1
            task = self.store.get_task(task_id)
            if task is None:
                continue
            url = task.params.extra["webhook"]["url"]
            base_url = self.base_url or task.params.extra["webhook"].get("result_base_url", "")
            body = self.results.document(task, base_url).model_dump_json().encode()
            headers = signed_headers(self.secret, f"msg_{task.id}", body)
            delivered = False
            try:
                delivered = self._post(http, url, body, headers)
            except Exception as exc:
                log.info("webhook for %s to %s failed: %s", task.id, url, exc)
            state = self.store.webhooks.record_attempt(task.id, lease, delivered, self.retry_delays_s)
            log.info("webhook for %s: %s", task.id, state or "taken over by another sender")
        return tried

    def _post(self, http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> bool:
        """POST to the address that was checked just now (the receiver's DNS may have changed since
        submit, and must not be asked twice: no rebinding window), with the right Host and SNI."""
        target = self.fetcher.check_url(url)
        extensions = target.tls_extensions
        request = http.build_request(
            "POST",
            target.request_url(target.addresses[0]),
            content=body,
            headers=headers | {"Host": target.host_header},
            extensions=extensions,
        )
        # Only the status matters: the receiver's body is never read, so it cannot flood our memory.
        response = http.send(request, stream=True)
        response.close()
        return response.is_success
