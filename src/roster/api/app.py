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
    moengage,
    openapi,
    runs,
    wallets,
    workspace,
)
from roster.api.params import EncodedSlashes
from roster.api.query_check import check_query
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
        docs_pages,
    ):
        app.include_router(module.router)
    openapi.install(app)  # the document completed with what the app does around the routes
    return app
