"""The API application. `create_app(settings)` builds everything; importing this module does nothing."""

from __future__ import annotations

from fastapi import FastAPI

from vidgate import __version__
from vidgate.api.errors import install_error_handlers
from vidgate.api.limits import BodySizeLimit
from vidgate.api.observe import install_metrics
from vidgate.api.observe import router as observe_router
from vidgate.api.routes import router
from vidgate.api.service import Services
from vidgate.api.web import router as web_router
from vidgate.inputs.fetch import log_private_urls_allowed
from vidgate.settings import Settings
from vidgate.storage import open_store
from vidgate.store.db import open_task_store


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
    app = FastAPI(
        title="vidgate",
        version=__version__,
        description="Self-hosted, drop-in server for the VIDU Q2 Pro image-to-video async API.",
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(observe_router)
    app.include_router(web_router)
    install_metrics(app, services.store)

    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    return app
