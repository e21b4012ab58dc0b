"""The API application. `create_app(settings)` builds everything; importing this module does nothing."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from vidgate import __version__
from vidgate.api.cors import Cors
from vidgate.api.errors import install_error_handlers
from vidgate.api.limits import BodySizeLimit
from vidgate.api.observe import install_metrics
from vidgate.api.observe import router as observe_router
from vidgate.api.openapi import install_openapi
from vidgate.api.providers import router as providers_router
from vidgate.api.routes import router
from vidgate.api.service import Services
from vidgate.api.web import router as web_router
from vidgate.inputs.fetch import log_private_urls_allowed
from vidgate.settings import Settings
from vidgate.storage import open_store
from vidgate.store.db import open_task_store

DOCS_ASSETS_PATH = "/docs/assets"


def build_services(settings: Settings) -> Services:
    return Services(
        settings=settings,
        store=open_task_store(settings.resolved_database_url()),
        objects=open_store(settings),
        signing_secret=settings.resolved_signing_secret(),
    )


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    services = services or build_services(settings or Settings())
    settings = services.settings
    log_private_urls_allowed(settings)
    # /docs loads Swagger UI from files installed with fastapi-offline, not from a CDN: the page
    # works on a machine with no internet, and tells no third party it was read. No /redoc: ReDoc's
    # page fetches its logo from its CDN whatever it is given.
    app = FastAPIOffline(
        title="vidgate",
        version=__version__,
        description="Self-hosted, drop-in server for the VIDU Q2 Pro image-to-video async API.",
        static_url=DOCS_ASSETS_PATH,
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(observe_router)
    app.include_router(providers_router)
    app.include_router(web_router)
    install_metrics(app, services.store, settings.enabled_engines())
    install_openapi(app, settings)

    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    if settings.cors_origin_list():  # outermost, so that refusals (413...) carry CORS headers too
        app.add_middleware(Cors, origins=settings.cors_origin_list())
    return app
