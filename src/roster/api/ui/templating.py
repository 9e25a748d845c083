"""The dashboard's templates: Jinja2 with autoescaping always on, and the page headers every
answer carries (no framing, no script or style from anywhere but Roster itself)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from roster import __version__

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

#: Sent with every dashboard answer.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _age(seconds: float | None) -> str:
    """``42 s``, ``3 min``, ``5 h``, ``2 d``."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _ms_age(ms: int | None) -> str:
    return "-" if ms is None else _age(max(0.0, time.time() - ms / 1000))


def _percent(part: int, whole: int) -> str:
    return "100%" if not whole else f"{100 * part / whole:.0f}%"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,  # every value is escaped, whatever the template's name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(age=_age, ms_age=_ms_age, percent=_percent)
_env.globals["version"] = __version__


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    session = getattr(request.state, "ui_session", None)
    page = _env.get_template(name).render(request=request, session=session, **context)
    return HTMLResponse(page, status_code=status_code, headers={**HEADERS, **(headers or {})})
