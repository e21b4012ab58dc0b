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
from sqlalchemy import Engine, and_, or_, select, update

from vidgate.api.service import Services
from vidgate.store.clock import now_ms
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
    """Delivery state kept on the task rows; every change is a compare-and-set."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim_due(self, limit: int = 10) -> list[str]:
        now = now_ms()
        due = and_(
            tasks.c.webhook_url.is_not(None),
            tasks.c.status.in_(TERMINAL),
            or_(
                tasks.c.webhook_state.is_(None),
                and_(tasks.c.webhook_state.in_(("retry", "sending")), tasks.c.webhook_next_ms <= now),
            ),
        )
        with self.engine.connect() as conn:
            candidates = list(conn.execute(select(tasks.c.id).where(due).limit(limit)).scalars())
        claimed = []
        for task_id in candidates:
            take = update(tasks).where(tasks.c.id == task_id, due)
            with self.engine.begin() as conn:
                result = conn.execute(
                    take.values(webhook_state="sending", webhook_next_ms=now + SEND_LEASE_MS)
                )
            if result.rowcount == 1:
                claimed.append(task_id)
        return claimed

    def record(self, task_id: str, delivered: bool) -> str:
        """Record one attempt's outcome; returns the new state."""
        with self.engine.begin() as conn:
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
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.webhook_state == "sending")
                .values(webhook_state=state, webhook_attempts=attempts, webhook_next_ms=next_ms)
            )
        return state


class WebhookSender:
    """A thread that delivers due webhooks until `stop` is set."""

    def __init__(self, services: Services, secret: str, base_url: str, interval: float = 1.0) -> None:
        self.services, self.secret, self.base_url, self.interval = services, secret, base_url, interval
        self.outbox = WebhookOutbox(services.store.engine)

    def run(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as http:
            while not stop.is_set():
                try:
                    sent = self.deliver_due(http)
                except Exception:
                    log.exception("webhook delivery loop error")
                    sent = 0
                if not sent:
                    stop.wait(self.interval)

    def deliver_due(self, http: httpx.Client) -> int:
        claimed = self.outbox.claim_due()
        for task_id in claimed:
            task = self.services.store.get_task(task_id)
            if task is None or not task.params.extra.get("webhook"):
                continue
            url = task.params.extra["webhook"]["url"]
            document = self.services.result_document(task, self.base_url)
            body = document.model_dump_json().encode()
            headers = signed_headers(self.secret, f"msg_{task.id}", body)
            delivered = False
            try:
                delivered = self._post(http, url, body, headers)
            except Exception as exc:
                log.info("webhook for %s to %s failed: %s", task.id, url, exc)
            state = self.outbox.record(task.id, delivered)
            log.info("webhook for %s: %s", task.id, state)
        return len(claimed)

    def _post(self, http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> bool:
        """POST to the address that was checked just now (the receiver's DNS may have changed since
        submit, and must not be asked twice: no rebinding window), with the right Host and SNI."""
        target = self.services.fetcher.check(url, 0)
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
        return http.send(request).is_success
