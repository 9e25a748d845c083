"""``GET /healthz``: the process is up and its database answers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from roster.api.deps import container

router = APIRouter(tags=["Operations"])


_UNAVAILABLE = {
    "description": "The database does not answer (Retry-After)",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"status": {"const": "unavailable"}}}
        }
    },
}


@router.get("/healthz", summary="Liveness and database check", responses={503: _UNAVAILABLE})
async def healthz(request: Request) -> Any:
    db = container(request).db

    def check() -> dict[str, Any]:
        with db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
            return {"status": "ok", "database": db.dialect}

    try:
        return await run_in_threadpool(check)
    except sa.exc.OperationalError:
        return JSONResponse(
            {"status": "unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )
