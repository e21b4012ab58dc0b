"""Cross-origin requests from browser front-ends (CORS), for the origins VIDGATE_CORS_ORIGINS names.

Off by default: with no origins a preflight is the 405 any OPTIONS gets, and browsers refuse
cross-origin calls as before.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from vidgate.api.errors import envelope
from vidgate.errors import CorsRefused

# What a browser client sends beyond the CORS-safelisted headers.
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID")
# Response headers a browser client may read besides the safelisted ones: when to retry a 429,
# the methods a 405 allows, a download's file name.
EXPOSED_HEADERS = ("Retry-After", "Allow", "Content-Disposition")
PREFLIGHT_CACHE_S = 600


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the contract's envelope."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=("GET", "HEAD", "POST"),
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_CACHE_S,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refusal = envelope(
            CorsRefused(
                "This cross-origin request is not allowed: its origin is not in VIDGATE_CORS_ORIGINS, "
                f"or it asks for a method or header the API does not take ({bytes(response.body).decode()}).",
                {"origin": request_headers["origin"]},
            )
        )
        refusal.headers.update(
            {k: v for k, v in response.headers.items() if k.lower().startswith(("vary", "access-control-"))}
        )
        return refusal
