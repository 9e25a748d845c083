"""Signing in (``/ui/login``, form fields ``email`` and ``password``) and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from roster.api.deps import container
from roster.api.ui import sessions
from roster.api.ui.sessions import Changing
from roster.api.ui.templating import HEADERS, render
from roster.services.operators.sign_in import SignInFailed, SignInThrottled, sign_in

router = APIRouter(prefix="/ui")


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": sessions.safe_next(next), "error": None})


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui/",
) -> Response:
    """Check the credentials (slowed down after repeated failures) and start a session.

    Signing in has no session yet to hold a CSRF token: a cross-site form is refused by its
    ``Origin`` instead, and the session cookie is SameSite."""
    sessions.same_origin(request)
    address = request.client.host if request.client else "unknown"
    db = container(request).db
    target = sessions.safe_next(next)
    try:
        operator = await run_in_threadpool(sign_in, db, email, password, address)
    except SignInThrottled as exc:
        context = {"next": target, "error": str(exc)}
        headers = {"Retry-After": str(exc.retry_after_s)}
        return render(request, "login.html", context, status_code=429, headers=headers)
    except SignInFailed as exc:
        return render(request, "login.html", {"next": target, "error": str(exc)}, status_code=401)
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    await run_in_threadpool(sessions.start, request, response, operator)
    return response


@router.post("/logout")
def logout(request: Request, session: Changing) -> Response:
    response = RedirectResponse("/ui/login", status_code=303, headers=HEADERS)
    sessions.end(response)
    return response
