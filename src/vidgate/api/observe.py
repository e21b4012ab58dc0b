"""Watching tasks and the server: Server-Sent Events per task, Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.api.deps import ON_A_TASK, Key, TaskIdQuery, services
from vidgate.api.openapi import error_responses
from vidgate.errors import UPSTREAM_CREATE_UNCERTAIN
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import Task, TaskStatus

router = APIRouter()
EVENT_POLL_S = 0.25


def _followed_task(request: Request, key: Key, task_id: TaskIdQuery) -> Task:
    """Read before the stream starts, so that an unknown id is a 404 with the envelope."""
    return services(request).get(task_id, key.tenant_id)


def event_id(task: Task) -> str:
    """An event's id names the state it reports: a client that reconnects with it as `Last-Event-ID`
    is not sent that state again, only what follows (and nothing for a final state it has)."""
    return f"{task.status.value}.{task.progress}.{task.eta}"


@router.get(
    "/v3/async/task-events", response_class=EventSourceResponse, responses=error_responses(*ON_A_TASK)
)
async def task_events(
    request: Request,
    key: Key,
    task_id: TaskIdQuery,
    task: Annotated[Task, Depends(_followed_task)],
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """A `text/event-stream` of the task-result document: one `task` event whenever status,
    progress or eta change, ending after the terminal one. Unknown ids are a 404 before streaming.
    FastAPI's SSE writes the events and a `: ping` comment after 15 s of silence (proxies close
    connections that stay silent), and stops this generator when the client goes away."""
    svc = services(request)
    base_url = str(request.base_url)
    sent = last_event_id
    while True:
        if event_id(task) != sent:
            document = await run_in_threadpool(svc.result_document, task, base_url)
            sent = event_id(task)
            yield ServerSentEvent(raw_data=document.model_dump_json(), event="task", id=sent)
        if task.status.is_terminal:
            return
        await asyncio.sleep(EVENT_POLL_S)
        task = await run_in_threadpool(svc.get, task_id, key.tenant_id)


class TaskCollector(Collector):
    """Tasks by status, read from the database at scrape time (so every API process reports the truth)."""

    def __init__(self, store: SqlTaskStore, engines: list[str]) -> None:
        self.store, self.engines = store, engines

    def collect(self) -> Iterator[Metric]:
        counts = self.store.count_by_status()
        engines = sorted(set(self.engines) | {engine for _status, engine in counts})
        totals = GaugeMetricFamily("vidgate_tasks", "Tasks by status", labels=["status"])
        by_engine = GaugeMetricFamily(
            "vidgate_engine_tasks", "Tasks by engine and status (QUEUED: the engine's queue depth)",
            labels=["engine", "status"],
        )  # fmt: skip
        for status in TaskStatus:
            totals.add_metric([status.value], sum(counts.get((status, engine), 0) for engine in engines))
            for engine in engines:
                by_engine.add_metric([engine, status.value], counts.get((status, engine), 0))
        live = self.store.workers.live_by_engine()
        workers = GaugeMetricFamily(
            "vidgate_engine_workers", "Live workers running each enabled engine (0: its tasks wait)",
            labels=["engine"],
        )  # fmt: skip
        for engine in self.engines:
            workers.add_metric([engine], live.get(engine, 0))
        uncertain = GaugeMetricFamily(
            "vidgate_upstream_create_uncertain_tasks",
            "Tasks failed because a worker died between an upstream create and recording its id "
            "(the provider may have run them: see docs/engines.md)",
        )
        uncertain.add_metric([], self.store.count_failed_with(UPSTREAM_CREATE_UNCERTAIN, "vidu"))
        yield from (totals, by_engine, workers, uncertain)


class UsageCollector(Collector):
    """The usage ledger's all-time figures by engine, as counters, read at scrape time (every API
    process reports the same, exact figures: the ledger counts each task once)."""

    def __init__(self, store: SqlTaskStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        totals = self.store.usage.totals_by_engine()
        tasks = CounterMetricFamily(
            "vidgate_usage_tasks", "Tasks by engine and outcome (submitted, succeeded, failed, cancelled)",
            labels=["engine", "outcome"],
        )  # fmt: skip
        video = CounterMetricFamily(
            "vidgate_usage_video_seconds", "Seconds of video delivered, by engine", labels=["engine"]
        )
        render = CounterMetricFamily(
            "vidgate_usage_render_seconds", "Seconds from first claim to end of ended tasks, by engine",
            labels=["engine"],
        )  # fmt: skip
        for engine, figures in sorted(totals.items()):
            for outcome in ("submitted", "succeeded", "failed", "cancelled"):
                tasks.add_metric([engine, outcome], getattr(figures, outcome))
            video.add_metric([engine], figures.video_seconds)
            render.add_metric([engine], figures.render_seconds)
        yield from (tasks, video, render)


class RequestMetrics:
    """Counts requests by route template and status, and times each to its first byte.

    Plain ASGI, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware wraps every response in
    a stream and a task group, which measured a quarter of a small request's time in the server."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        def record(status: int) -> None:
            route = getattr(scope.get("route"), "path", "unmatched")  # the template, never raw ids
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)

        async def measured_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        except Exception:
            if not answered:  # the server's last-resort handler answers it with a 500
                record(500)
            raise


def install_metrics(app: FastAPI, store: SqlTaskStore, engines: list[str]) -> None:
    registry = CollectorRegistry()
    registry.register(TaskCollector(store, engines))
    registry.register(UsageCollector(store))
    requests = Counter(
        "vidgate_http_requests", "HTTP requests", ["method", "route", "code"], registry=registry
    )
    latency = Histogram(
        "vidgate_http_request_duration_seconds",
        "Time to answer an HTTP request (to the first byte of a stream)",
        ["route"],
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        registry=registry,
    )

    app.add_middleware(RequestMetrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
