"""``POST /v1/imports/people``: Customer.io's CSV people import.

The file streams into a temporary file (``api.uploads``); the door then reads it once, line by
line, to check it and cut it into chunks of whole records (``formats.customerio_people_csv``),
and stores the batch with its chunks in one transaction. The answer (202) carries the
``batch_id`` and the number of rows; the worker applies the rows a chunk at a time, reporting
each problem by row.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from roster.api import schemas
from roster.api.deps import container, workspace_of
from roster.api.submit import submit
from roster.api.uploads import receive_file
from roster.formats import customerio_people_csv as people_csv
from roster.formats.customerio_people_csv import Options, Split
from roster.services.apply import kinds
from roster.services.intake.accept import check_idempotency_key
from roster.store.batch_chunks import StoredChunk

router = APIRouter(tags=["Customer.io"])
#: A flag as ``formats.customerio_people_csv`` reads it: true, false, 1 or 0, in any case.
FLAG = {"pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"}


@router.post(
    "/v1/imports/people",
    summary="Import people from a CSV file (text/csv body or multipart upload)",
    status_code=202,
    responses={400: {}, 401: {}, 413: {}, 415: {}, 422: {}, 429: {}},
    openapi_extra={"requestBody": schemas.CSV_REQUEST},
)
async def import_people(
    request: Request,
    response: Response,
    create: str | None = Query(
        None, description="create people not found: true (default), false", json_schema_extra=FLAG
    ),
    match_by: str | None = Query(
        None,
        description="the column people are matched by: id, email",
        json_schema_extra={"enum": ["id", "email"]},
    ),
    empty: str | None = Query(
        None,
        description="an empty cell: ignore (default) or nullify",
        json_schema_extra={"enum": ["ignore", "nullify"]},
    ),
    infer_types: str | None = Query(
        None, description="numbers and booleans as such: false", json_schema_extra=FLAG
    ),
) -> dict[str, Any]:
    settings = container(request).settings
    workspace = await workspace_of(request)
    given = {"create": create, "match_by": match_by, "empty": empty, "infer_types": infer_types}
    options = people_csv.options_from({k: v for k, v in given.items() if v is not None})
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    with tempfile.TemporaryFile(prefix="roster-import-") as file:
        sha256 = await receive_file(request, file, settings.csv_max_bytes)
        found = await run_in_threadpool(_read, file, options)
        batch_id = await submit(
            request,
            response,
            workspace,
            kind=kinds.CUSTOMERIO_PEOPLE_CSV,
            payload=people_csv.stored_import(found, options, sha256),
            elements=found.rows,
            users=0,  # a file import is not charged to the per-minute API limits
            events=0,
            key=key,
            chunks=lambda: _chunks(file, found),
        )
    return {
        "status": "accepted",
        "batch_id": batch_id,
        "rows": found.rows,
        "columns": found.header,
        "options": options.as_json(),
    }


def _read(file: IO[bytes], options: Options) -> Split:
    file.seek(0)
    return people_csv.split(file, options)


def _chunks(file: IO[bytes], found: Split) -> Iterator[StoredChunk]:
    for seq, chunk in enumerate(found.chunks):
        file.seek(chunk.offset)
        yield StoredChunk(seq, chunk.first_row, chunk.rows, file.read(chunk.length))
