"""The browser playground: `GET /` and its static files, under a strict Content-Security-Policy.

The page is plain HTML, CSS and JavaScript in `vidgate/web/` (shipped in the wheel, no build step);
it talks to the API with the user's key like any other client.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from vidgate.errors import ApiNotFound
from vidgate.settings import Settings

router = APIRouter(include_in_schema=False)
# The files the page loads, and nothing else from that folder: a name outside this list is a 404.
JAVASCRIPT = "text/javascript; charset=utf-8"
ASSETS = {
    "app.js": JAVASCRIPT,
    "api.js": JAVASCRIPT,
    "snippets.js": JAVASCRIPT,
    "tasks.js": JAVASCRIPT,
    "style.css": "text/css; charset=utf-8",
}
ASSET_PREFIX = "/playground/"


@cache
def _read(name: str) -> bytes:
    return resources.files("vidgate").joinpath("web", name).read_bytes()


def media_origins(settings: Settings) -> list[str]:
    """Where the page's `<video>` may load from besides its own origin. Video links point at this
    server (`/v3/files/...`), or at `VIDGATE_PUBLIC_BASE_URL` when set; with S3 storage that link
    redirects to the bucket, and the browser checks the redirect's target against `media-src` too."""
    origins = []
    if settings.public_base_url:
        origins.append(_origin(settings.public_base_url))
    if settings.storage_url.startswith("s3://"):
        endpoint = settings.s3_public_endpoint_url or settings.s3_endpoint_url
        if endpoint:
            origins.append(_origin(endpoint))
        else:  # AWS itself: boto3 presigns virtual-hosted URLs, with or without the region
            bucket = urlsplit(settings.storage_url).netloc
            origins.append(f"https://{bucket}.s3.amazonaws.com")
            if settings.s3_region:
                origins.append(f"https://{bucket}.s3.{settings.s3_region}.amazonaws.com")
    return [origin for origin in dict.fromkeys(origins) if origin]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(settings: Settings) -> str:
    """No inline script or style, nothing from another origin but the videos. `img-src data: blob:`
    is for previews of the chosen images, which the page reads into data: URIs before sending."""
    media = " ".join(["'self'", *media_origins(settings)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            f"media-src {media}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _page_headers(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.services.settings
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # A fresh copy after an upgrade; the files are small, and revalidating them is cheap.
        "Cache-Control": "no-cache",
    }


@router.api_route("/", methods=["GET", "HEAD"])
def playground(request: Request) -> Response:
    return Response(
        _read("index.html"), media_type="text/html; charset=utf-8", headers=_page_headers(request)
    )


@router.api_route(ASSET_PREFIX + "{name}", methods=["GET", "HEAD"])
def playground_asset(request: Request, name: str) -> Response:
    if name not in ASSETS:
        raise ApiNotFound(f"No API at {request.method} {request.url.path}.")
    return Response(_read(name), media_type=ASSETS[name], headers=_page_headers(request))
