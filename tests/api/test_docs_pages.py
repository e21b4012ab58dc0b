"""/docs: every asset comes from this server (installed with fastapi-offline), none from a CDN."""

from __future__ import annotations

import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from support.api import Api
from vidgate.app import create_app
from vidgate.settings import Settings

# What each asset must be served as, for a browser to run or apply it.
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


class AssetLinks(HTMLParser):
    """Every URL a page makes the browser load: src and href."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def linked_urls(page: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(page)
    # Swagger UI takes its spec from the script that starts it: `url: '/openapi.json'`.
    parser.urls += [line.split("'")[1] for line in page.splitlines() if line.strip().startswith("url: '")]
    return parser.urls


def test_the_docs_page_loads_only_local_assets(api: Api) -> None:
    page = "/docs"
    response = api.client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = linked_urls(response.text)
    assert len(urls) == 4, urls  # the stylesheet, the script, the icon and the spec
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), f"{page} loads {url}"
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert CONTENT_TYPES[suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000, f"{url} is the real asset, not a placeholder"


def test_the_swagger_bundle_is_swagger_ui_5_which_reads_openapi_3_1(api: Api) -> None:
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders only from version 5 on."""
    spec = api.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    bundle = api.client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle and '"5.' in bundle


def test_there_is_no_redoc_page(api: Api) -> None:
    """ReDoc's page loads its logo from its CDN, whatever it is given: not served."""
    assert api.client.get("/redoc").json()["reason"] == "API_NOT_FOUND"


def test_an_unknown_asset_is_the_contracts_404(api: Api) -> None:
    response = api.client.get("/docs/assets/missing.js")
    assert response.status_code == 404 and response.json()["reason"] == "API_NOT_FOUND"


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
def test_swagger_ui_renders_in_a_browser_with_no_request_leaving_the_machine(settings: Settings) -> None:
    """Chromium opens /docs; every request but those to this server is aborted and recorded."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs playwright (dev extra)"
    )
    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's chromium at /usr/bin/chromium")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    elsewhere: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
            try:
                page = browser.new_page()
                page.route("**/*", only_this_server)
                page.goto(f"{base}/docs")
                page.wait_for_selector(".opblock-summary-path", timeout=15_000)
                shown = set(page.locator(".opblock-summary-path").all_inner_texts())
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert "/v3/async/vidu-q2-pro-img2video" in shown and "/v3/async/task-result" in shown
    assert elsewhere == [], "the page asked for something that is not on this server"
