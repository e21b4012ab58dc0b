"""Image URLs cannot reach the server's own network: every attack case, then the same properties
over real sockets on 127.0.0.1 (connect to the checked address, Host and SNI, TLS verification,
byte and time bounds)."""

from __future__ import annotations

import http.server
import ipaddress
import logging
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from security.cases_ssrf import PUBLIC_V4, SSRF_CASES, SsrfCase, observe
from security.network import StaticResolver
from support.api import Api
from support.media import make_image
from support.servers import ImageServer
from vidgate.app import create_app
from vidgate.errors import ImageFileExceedsMaxSize, InvalidImageUrl
from vidgate.inputs import fetch
from vidgate.inputs.addresses import is_public
from vidgate.inputs.fetch import ImageFetcher
from vidgate.settings import Settings
from vidgate.tasks.model import TaskStatus
from vidgate.worker.runner import Worker


@pytest.mark.parametrize("case", SSRF_CASES, ids=lambda c: c.attack)
def test_attack(case: SsrfCase) -> None:
    seen = observe(case)
    assert seen.outcome == case.expect, seen
    if case.expect == "refused at submit":
        assert seen.at_submit.startswith("400 INVALID_IMAGE_URL") and seen.contacted == []
    if case.expect != "fetched":
        assert seen.in_worker.startswith("FAILED INVALID_IMAGE_URL"), "the worker checks again"
    for connection in seen.contacted:  # only ever the public address that was checked
        assert is_public(ipaddress.ip_address(connection.split(" ")[0])), connection


def test_enough_distinct_attacks_are_tried() -> None:
    attacks = [c for c in SSRF_CASES if not c.attack.startswith("control")]
    assert len(attacks) >= 30 and len({c.url for c in attacks}) >= 30


def fetcher(settings: Settings, answers: dict[str, object], **kwargs: object) -> ImageFetcher:
    return ImageFetcher(settings, StaticResolver(answers), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def trap_on_127_0_0_2(image_server: ImageServer) -> Iterator[list[str]]:
    """A server on 127.0.0.2 at the image server's port: where a second DNS answer would lead."""
    hits: list[str] = []

    class Trap(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(500)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    port = int(image_server.base_url.rsplit(":", 1)[1])
    try:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.2", port), Trap)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield hits
    httpd.shutdown()
    httpd.server_close()


def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    settings: Settings, image_server: ImageServer, trap_on_127_0_0_2: list[str]
) -> None:
    port = image_server.base_url.rsplit(":", 1)[1]
    image_server.add("/a.png", make_image(64, 48))
    resolver = StaticResolver({"img.test": [["127.0.0.1"], ["127.0.0.2"]]})  # rebinds after one answer
    data = ImageFetcher(settings, resolver).fetch(f"http://img.test:{port}/a.png", 0)
    assert data == make_image(64, 48)
    assert image_server.host_headers == [f"img.test:{port}"], "Host names the host, not the IP"
    assert resolver.calls == ["img.test"], "one lookup per hop: nothing left to rebind"
    assert trap_on_127_0_0_2 == []


def test_dns_rebinding_between_submit_and_worker_fails_the_task(api: Api, image_server: ImageServer) -> None:
    port = image_server.base_url.rsplit(":", 1)[1]
    image_server.add("/a.png", make_image(64, 48))
    api.services.settings.allow_private_urls = False
    resolver = StaticResolver({"rebind.test": [[PUBLIC_V4], ["127.0.0.1"]]})
    api.services.fetcher = ImageFetcher(api.services.settings, resolver)
    response = api.submit({"images": [f"http://rebind.test:{port}/a.png"], "prompt": "x", "duration": 1})
    assert response.status_code == 200, "at submit the name was public"
    worker = Worker(api.services.settings, api.services.store, api.services.objects)
    worker.fetcher = api.services.fetcher
    assert worker.run_once()
    task = api.services.store.get_task(response.json()["task_id"])
    assert task is not None and task.status is TaskStatus.FAILED
    assert task.reason.startswith("INVALID_IMAGE_URL") and "not a public address" in task.reason
    assert image_server.hits == {}, "the private address was never contacted"


def test_mixed_answers_are_refused_at_submit(api: Api, image_server: ImageServer) -> None:
    api.services.settings.allow_private_urls = False
    api.services.fetcher = ImageFetcher(
        api.services.settings, StaticResolver({"mixed.test": [PUBLIC_V4, "127.0.0.1"]})
    )
    response = api.submit({"images": ["http://mixed.test/a.png"], "prompt": "x"})
    assert response.status_code == 400 and response.json()["reason"] == "INVALID_IMAGE_URL"
    assert image_server.hits == {}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=img.test",
         "-addext", "subjectAltName=DNS:img.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_sends_sni_and_verifies_the_certificate_for_the_host_name(
    settings: Settings, image_server: ImageServer, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server_names: list[str | None] = []
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)  # type: ignore[assignment,func-returns-value]
    handler = _image_handler(make_image(64, 48))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    port = httpd.server_address[1]
    client_context = ssl.create_default_context(cafile=str(cert))
    answers = {"img.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    try:
        good = fetcher(settings, answers, ssl_context=client_context)
        assert good.fetch(f"https://img.test:{port}/a.png", 0) == make_image(64, 48)
        with pytest.raises(InvalidImageUrl, match=r"could not be fetched \(the server's TLS certificate"):
            good.fetch(f"https://other.test:{port}/a.png", 0)  # certificate is for img.test
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert server_names[:2] == ["img.test", "other.test"]


def _image_handler(body: bytes, content_type: str = "image/png", delay: float = 0.0, chunked: bool = False):  # type: ignore[no-untyped-def]
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for start in range(0, len(body), 1 if delay else len(body) or 1):
                    piece = body[start : start + (1 if delay else len(body))]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    self.wfile.flush()
                    time.sleep(delay)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the client gave up, as it should

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


@pytest.fixture
def serve():  # type: ignore[no-untyped-def]
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler) -> str:  # type: ignore[no-untyped-def]
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/a.png"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_bytes_are_capped_while_streaming(settings: Settings, serve) -> None:  # type: ignore[no-untyped-def]
    settings.max_image_bytes = 4096
    chunked = serve(_image_handler(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10_000, chunked=True))
    with pytest.raises(ImageFileExceedsMaxSize):
        ImageFetcher(settings).fetch(chunked, 0)
    declared = serve(_image_handler(b"\x00" * 10_000))
    with pytest.raises(ImageFileExceedsMaxSize):
        ImageFetcher(settings).fetch(declared, 0)


def test_a_trickling_server_runs_out_the_whole_download_budget(settings: Settings, serve) -> None:  # type: ignore[no-untyped-def]
    settings.fetch_timeout = 1.0
    url = serve(_image_handler(make_image(64, 48), delay=0.05))  # every read is quick; the whole is not
    started = time.monotonic()
    with pytest.raises(InvalidImageUrl, match="took too long"):
        ImageFetcher(settings).fetch(url, 0)
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("content_type", "body", "accepted"),
    [
        ("text/html", b"<html><body>not an image</body></html>", False),
        ("application/octet-stream", make_image(32, 32), True),  # unlabelled, but shaped as a PNG
        ("image/png", b"anything: the validator decides", True),
    ],
)
def test_responses_must_be_labelled_or_shaped_as_images(
    settings: Settings,
    serve,
    content_type: str,
    body: bytes,
    accepted: bool,  # type: ignore[no-untyped-def]
) -> None:
    url = serve(_image_handler(body, content_type))
    if accepted:
        assert ImageFetcher(settings).fetch(url, 0) == body
    else:
        with pytest.raises(InvalidImageUrl, match="did not return an image"):
            ImageFetcher(settings).fetch(url, 0)


def test_allowing_private_urls_is_logged_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="vidgate.inputs"):
        create_app(settings)
    assert "VIDGATE_ALLOW_PRIVATE_URLS is on" in caplog.text
    caplog.clear()
    settings.allow_private_urls = False
    with caplog.at_level(logging.WARNING, logger="vidgate.inputs"):
        create_app(settings)
    assert "VIDGATE_ALLOW_PRIVATE_URLS" not in caplog.text


def test_a_refused_private_url_tells_the_operator_how_development_allows_it(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.allow_private_urls = False
    fetch._private_url_hint_logged.clear()  # once per process: as if this one had just started
    for _ in range(3):
        with caplog.at_level(logging.WARNING, logger="vidgate.inputs"), pytest.raises(InvalidImageUrl) as no:
            ImageFetcher(settings).fetch("http://127.0.0.1:9/photo.png", 0)
        assert "VIDGATE_ALLOW_PRIVATE_URLS" not in no.value.message, "the client is not told"
    assert caplog.text.count("VIDGATE_ALLOW_PRIVATE_URLS=true allows such URLs") == 1, "the operator, once"
