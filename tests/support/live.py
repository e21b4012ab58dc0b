"""A real vidgate server on 127.0.0.1 inside the test process: uvicorn in a thread, and optionally a
worker in another, for clients that must speak real HTTP (the CLI, a browser)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import APIRouter

from vidgate.api.service import Services
from vidgate.app import build_services, create_app
from vidgate.settings import Settings
from vidgate.worker.runner import Worker


@dataclass
class LiveServer:
    base_url: str
    key: str
    services: Services


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(
    settings: Settings, with_worker: bool = True, routes_first: APIRouter | None = None
) -> Iterator[LiveServer]:
    """`routes_first` answer before the app's own routes: a test stands in for a route another
    deployment has, or has not (a server without the event stream, one with several engines)."""
    services = build_services(settings)
    _record, key = services.store.keys.create("live")
    port = free_port()
    app = create_app(settings, services)
    if routes_first is not None:
        app.router.routes[:0] = routes_first.routes
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    stop = threading.Event()
    working = threading.Thread(
        target=Worker(settings, services.store, services.objects).run, args=(stop,), daemon=True
    )
    if with_worker:
        working.start()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    assert httpx.get(f"{base_url}/healthz").status_code == 200
    try:
        yield LiveServer(base_url, key, services)
    finally:
        stop.set()
        server.should_exit = True
        serving.join(timeout=10)
        if with_worker:
            working.join(timeout=10)
