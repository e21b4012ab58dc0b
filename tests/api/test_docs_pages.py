"""/docs and /redoc: every asset comes from this server (installed with fastapi-offline), none from a CDN."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from conftest import Api

# What each asset must be served as, for a browser to run or apply it.
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


class AssetLinks(HTMLParser):
    """Every URL a page makes the browser load: src, href, and ReDoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


def linked_urls(page: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(page)
    # Swagger UI takes its spec from the script that starts it: `url: '/openapi.json'`.
    parser.urls += [line.split("'")[1] for line in page.splitlines() if line.strip().startswith("url: '")]
    return parser.urls


@pytest.mark.parametrize(("page", "expected"), [("/docs", 4), ("/redoc", 3)])
def test_docs_pages_load_only_local_assets(api: Api, page: str, expected: int) -> None:
    response = api.client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = linked_urls(response.text)
    assert len(urls) == expected, urls  # the stylesheet, script, icon and spec each page needs
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


def test_an_unknown_asset_is_the_contracts_404(api: Api) -> None:
    response = api.client.get("/docs/assets/missing.js")
    assert response.status_code == 404 and response.json()["reason"] == "API_NOT_FOUND"
