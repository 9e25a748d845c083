"""Who is signed in: sessions in signed cookies, CSRF tokens, and the role a page needs.

A session cookie (``roster_ui``, path ``/ui``, HttpOnly, SameSite=Lax, Secure over HTTPS)
holds the operator's id, the time its password was set and a random nonce, signed with the
instance's session key (``services.operators.session_key``) and a timestamp. It is refused
after ``ROSTER_UI_SESSION_HOURS``, when the operator is gone, or when its password changed.
The CSRF token of a session is an HMAC of its nonce: every form that changes something
carries it (field ``csrf``; htmx sends it as ``X-CSRF-Token``), and a request without the
right one is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from roster.api.deps import container
from roster.domain.operators import Operator
from roster.services.operators import accounts
from roster.services.operators.session_key import session_key

COOKIE = "roster_ui"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Session:
    operator: Operator
    csrf: str


class UiProblem(Exception):
    """A dashboard request refused; ``ui.install`` turns it into a page or a redirect."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignInRequired(UiProblem):
    status_code = 303

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in first")
        self.next_path = next_path


class Forbidden(UiProblem):
    status_code = 403


class PageNotFound(UiProblem):
    status_code = 404


def _key(request: Request) -> str:
    """The session key, read (or made) once per application."""
    state = request.app.state
    found: str | None = getattr(state, "ui_session_key", None)
    if found is None:
        settings = container(request).settings
        configured = settings.ui_secret.get_secret_value() if settings.ui_secret else None
        found = state.ui_session_key = session_key(container(request).db, configured)
    return found


def _signer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        key, salt="roster.ui.session", signer_kwargs={"digest_method": hashlib.sha256}
    )


def _csrf(key: str, nonce: str) -> str:
    return hmac.new(key.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _max_age(request: Request) -> int:
    return int(container(request).settings.ui_session_hours * 3600)


def start(request: Request, response: Response, operator: Operator) -> None:
    """Sign the operator in: set the session cookie on ``response``."""
    nonce = secrets.token_urlsafe(16)
    value = _signer(_key(request)).dumps(
        {"o": operator.id, "p": operator.password_set_at, "n": nonce}
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=_max_age(request),
        path="/ui",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="lax")


def _current(request: Request) -> Session | None:
    """The session of the request's cookie, if it is valid (runs in a worker thread)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    key = _key(request)
    try:
        data: Any = _signer(key).loads(cookie, max_age=_max_age(request))
        operator_id, password_set_at, nonce = int(data["o"]), int(data["p"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    operator = accounts.by_id(container(request).db, operator_id)
    if operator is None or operator.password_set_at != password_set_at:
        return None  # deleted, or the password changed since
    return Session(operator, _csrf(key, nonce))


async def signed_in(request: Request) -> Session:
    """Dependency of every page but sign-in: the session, or a redirect to ``/ui/login``."""
    found = await run_in_threadpool(_current, request)
    if found is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    request.state.ui_session = found
    return found


SignedIn = Annotated[Session, Depends(signed_in)]


def same_origin(request: Request) -> None:
    """A browser's cross-site POST names another origin: refuse it (a request without
    ``Origin`` or ``Referer``, from a script or an old browser, still needs its CSRF token)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source and source != "null" and urlsplit(source).netloc != request.headers.get("host"):
        raise Forbidden("this form was sent from another site")


async def changing(request: Request, session: SignedIn) -> Session:
    """Dependency of every request that changes something: a session and its CSRF token."""
    same_origin(request)
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
        raise Forbidden("this form's CSRF token is missing or wrong: reload the page and retry")
    return session


Changing = Annotated[Session, Depends(changing)]


async def admin_changing(session: Changing) -> Session:
    """Dependency of a change only an admin may make."""
    if not session.operator.is_admin:
        raise Forbidden("only an admin may change this (you are a viewer)")
    return session


AdminChanging = Annotated[Session, Depends(admin_changing)]


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a dashboard path of this site, never another site."""
    if path and path.startswith("/ui/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/ui/"
