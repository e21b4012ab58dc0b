"""Webhooks: the task-result document POSTed to `extra.webhook.url` when a task ends.

Signed per the Standard Webhooks spec (https://www.standardwebhooks.com): headers `webhook-id`
(stable across retries, so receivers can de-duplicate), `webhook-timestamp` (unix seconds) and
`webhook-signature` = `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, where the secret
is `whsec_<base64 key>` (`vidgate webhook-secret` prints it).

Delivery is durable: the task row is the outbox. Any worker process runs a sender thread that claims
due deliveries with a compare-and-set (a lease, as for tasks), POSTs, and records the outcome:
2xx = delivered; anything else is retried with backoff (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h),
then marked failed. A crash mid-send leaves the lease to expire and another sender retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import threading
import time

import httpx
from sqlalchemy import ColumnElement, and_, or_, select, update

from vidgate.inputs.fetch import ImageFetcher
from vidgate.results import ResultDocuments
from vidgate.store.clock import now_ms
from vidgate.store.sql import SqlTaskStore
from vidgate.store.tables import tasks
from vidgate.tasks.model import TaskStatus

log = logging.getLogger("vidgate.webhooks")
SECRET_PREFIX = "whsec_"
RETRY_DELAYS_S = (5, 30, 120, 600, 1800, 3600, 7200)
SEND_LEASE_MS = 60_000
TIMEOUT_S = 10.0
TERMINAL = (TaskStatus.SUCCEED.value, TaskStatus.FAILED.value)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(secret: str, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def _is_name(host: str) -> bool:
    """TLS SNI carries host names only, never address literals."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False


class WebhookOutbox:
    """Delivery state kept on the task rows; every change is a compare-and-set.

    States: `pending` (set at submit when a URL is given; due once the task ends), `sending` (a
    sender holds it until `webhook_next_ms`), `retry` (due at `webhook_next_ms`), `delivered`,
    `failed`. Tasks without a webhook have no state and are never looked at."""

    def __init__(self, store: SqlTaskStore) -> None:
        self.store = store

    def _due(self, now: int) -> ColumnElement[bool]:
        return and_(
            tasks.c.status.in_(TERMINAL),
            or_(
                tasks.c.webhook_state == "pending",
                and_(tasks.c.webhook_state.in_(("retry", "sending")), tasks.c.webhook_next_ms <= now),
            ),
        )

    def claim_one(self) -> tuple[str, int] | None:
        """Take one due delivery: (task id, the lease we wrote, which `record` must still find)."""
        now = now_ms()
        with self.store.engine.connect() as conn:
            task_id = conn.execute(select(tasks.c.id).where(self._due(now)).limit(1)).scalar_one_or_none()
        if task_id is None:
            return None
        lease = now + SEND_LEASE_MS
        take = update(tasks).where(tasks.c.id == task_id, self._due(now))
        with self.store._write_transaction() as conn:
            taken = conn.execute(take.values(webhook_state="sending", webhook_next_ms=lease)).rowcount == 1
        return (task_id, lease) if taken else None

    def record(self, task_id: str, lease: int, delivered: bool) -> str | None:
        """Record one attempt's outcome; returns the new state, or None when our lease ran out and
        another sender took the delivery over (its outcome is the one that counts)."""
        with self.store.engine.connect() as conn:
            attempts = conn.execute(
                select(tasks.c.webhook_attempts).where(tasks.c.id == task_id)
            ).scalar_one()
        attempts += 1
        if delivered:
            state, next_ms = "delivered", None
        elif attempts > len(RETRY_DELAYS_S):
            state, next_ms = "failed", None
        else:
            state, next_ms = "retry", now_ms() + RETRY_DELAYS_S[attempts - 1] * 1000
        ours = and_(tasks.c.webhook_state == "sending", tasks.c.webhook_next_ms == lease)
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, ours)
            .values(
                webhook_state=state, webhook_attempts=tasks.c.webhook_attempts + 1, webhook_next_ms=next_ms
            )
        )
        with self.store._write_transaction() as conn:
            return state if conn.execute(statement).rowcount == 1 else None


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
    ) -> None:
        self.store, self.results, self.fetcher = store, results, fetcher
        self.secret, self.base_url, self.interval = secret, base_url, interval
        self.outbox = WebhookOutbox(store)

    def run(self, stop: threading.Event) -> None:
        # trust_env=False: a proxy from the environment would connect on our behalf, to anything.
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as http:
            while not stop.is_set():
                try:
                    sent = self.deliver_due(http)
                except Exception:
                    log.exception("webhook delivery loop error")
                    sent = 0
                if not sent:
                    stop.wait(self.interval)

    def deliver_due(self, http: httpx.Client, limit: int = 10) -> int:
        """Deliver up to `limit` due webhooks, one claim at a time; returns how many were tried."""
        tried = 0
        while tried < limit and (claim := self.outbox.claim_one()) is not None:
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
            state = self.outbox.record(task.id, lease, delivered)
            log.info("webhook for %s: %s", task.id, state or "taken over by another sender")
        return tried

    def _post(self, http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> bool:
        """POST to the address that was checked just now (the receiver's DNS may have changed since
        submit, and must not be asked twice: no rebinding window), with the right Host and SNI."""
        target = self.fetcher.check(url, 0)
        extensions = (
            {"sni_hostname": target.host} if target.scheme == "https" and _is_name(target.host) else {}
        )
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
