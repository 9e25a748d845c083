"""The FastAPI application, built around one container (see ``roster.bootstrap``)."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from roster import __version__
from roster.api import (
    batches,
    customerio,
    customerio_people_csv,
    customerio_v2,
    customers,
    docs_pages,
    errors,
    health,
    masivo,
    metrics,
    moengage,
    openapi,
    runs,
    wallets,
    workspace,
)
from roster.api.access_log import AccessLog
from roster.api.params import EncodedSlashes
from roster.api.query_check import check_query
from roster.api.ui import install as install_dashboard
from roster.bootstrap import Container


def create_app(container: Container) -> FastAPI:
    # Swagger UI (/docs) and ReDoc (/redoc, ours: ``docs_pages``) with their assets served by
    # Roster: no CDN, so the pages load on a machine without internet access.
    app = FastAPIOffline(
        redoc_url=None,
        title="Roster",
        version=__version__,
        summary="Customer data platform core: vendor-compatible imports with a per-element ledger.",
        dependencies=[Depends(check_query)],  # an unknown query parameter is a 400 naming it
    )
    app.state.container = container
    app.add_middleware(AccessLog)  # inside EncodedSlashes: it sees the route that answered
    app.add_middleware(EncodedSlashes, prefix=b"/api/v1/customers/")  # Track API ids
    errors.install(app)
    for module in (
        moengage,
        customerio,
        customerio_v2,
        customerio_people_csv,
        masivo,
        batches,
        runs,
        customers,
        wallets,
        workspace,
        health,
        metrics,
        docs_pages,
    ):
        app.include_router(module.router)
    install_dashboard(app)  # /ui/: the operators' dashboard, outside the OpenAPI document
    openapi.install(app)  # the document completed with what the app does around the routes
    return app
