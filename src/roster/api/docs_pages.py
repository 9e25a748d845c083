"""The ReDoc page (``/redoc``), served with a copy of fastapi-offline's ReDoc bundle whose one
link to another host (Redocly's logo, in the "API docs by Redocly" line) is made an inline
image: the page loads nothing from the internet. Swagger UI (``/docs``) needs no change."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

_BUNDLE = Path(fastapi_offline.__file__).parent / "static" / "redoc.standalone.js"
_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
#: A blank 1x1 image in the logo's place.
_BLANK = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
JS_PATH = "/docs-assets/redoc.standalone.js"


@cache
def _bundle() -> bytes:
    return _BUNDLE.read_bytes().replace(_LOGO, _BLANK)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{JS_PATH}",
        with_google_fonts=False,
        redoc_favicon_url=f"{root}/static-offline-docs/favicon.png",
    )


@router.get(JS_PATH)
async def redoc_bundle() -> Response:
    return Response(
        _bundle(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
