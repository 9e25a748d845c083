"""The dashboard at ``/ui/``: server-rendered pages (Jinja2, autoescaped) with htmx, served by
Roster itself (no CDN), for operators who sign in (``roster user create``); not in the OpenAPI
document. Each page is a module: sign-in, overview, batches, runs, customers, workspaces."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from roster.api.ui import batches, customers, overview, runs, sign_in, workspaces
from roster.api.ui.sessions import SignInRequired, UiProblem
from roster.api.ui.templating import HEADERS, STATIC, render


def install(app: FastAPI) -> None:
    """Serve the dashboard's pages, its static files and its refusals on ``app``."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for module in (sign_in, overview, batches, runs, customers, workspaces):
        app.include_router(module.router, include_in_schema=False)
    app.add_exception_handler(UiProblem, _refused)  # type: ignore[arg-type]


async def _refused(request: Request, exc: UiProblem) -> Response:
    if isinstance(exc, SignInRequired):
        target = "/ui/login?next=" + quote(exc.next_path, safe="")
        if request.headers.get("hx-request"):  # htmx: load the sign-in page, not a fragment
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303, headers=HEADERS)
    return render(
        request,
        "problem.html",
        {"message": exc.message, "status": exc.status_code},
        status_code=exc.status_code,
    )
