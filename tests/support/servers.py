"""Real HTTP servers on 127.0.0.1 the tests talk to: image URLs, webhook receivers."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@contextlib.contextmanager
def serving_http(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """A real HTTP server on 127.0.0.1 in a thread; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ImageServer:
    """A real HTTP server on 127.0.0.1 serving registered paths; counts hits per path."""

    base_url: str
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    host_headers: list[str] = field(default_factory=list)  # as each request sent it

    def add(self, path: str, body: bytes, content_type: str = "image/png", status: int = 200) -> str:
        self.routes[path] = (status, content_type, body)
        return self.base_url + path


@contextlib.contextmanager
def image_server() -> Iterator[ImageServer]:
    server_state: ImageServer

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.hits[self.path] = server_state.hits.get(self.path, 0) + 1
            server_state.host_headers.append(self.headers.get("Host", ""))
            status, content_type, body = server_state.routes.get(self.path, (404, "text/plain", b"nope"))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as port:
        server_state = ImageServer(f"http://127.0.0.1:{port}")
        yield server_state


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records webhook deliveries and answers with `statuses`."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    state: Receiver

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as port:
        state = Receiver(f"http://127.0.0.1:{port}/hooks/vidgate")
        yield state
