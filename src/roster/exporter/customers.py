"""Exporting a workspace's customers to a JSON lines file, from ``GET /v1/export/customers``.

The server streams the file a thousand customers per transaction; this writes what it receives
as it receives it (memory stays flat) to ``PATH.part``, and renames it to ``PATH`` once the
stream ended whole, so a file at ``PATH`` is always a complete export. The count the server
announces (``X-Roster-Count``) sizes the progress display; customers written during the export
may add a few.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

EXPORT_PATH = "/v1/export/customers"
CHUNK = 1 << 16


class ExportFailed(RuntimeError):
    """The server refused the export, or the stream broke: nothing is left at the path."""


@dataclass(frozen=True, slots=True)
class ExportRequest:
    url: str
    workspace: str
    key: str
    path: Path
    #: The listing's filters, as query parameters (``attribute``, ``value``, ``migrated``, ...).
    filters: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0


#: Told the expected count once, then the customers written so far.
Listener = Callable[[int | None, int], None]


def export(request: ExportRequest, listen: Listener) -> int:
    """Write the export; return how many customers it holds."""
    part = request.path.with_name(request.path.name + ".part")
    auth = (request.workspace, request.key)
    timeout = httpx.Timeout(request.timeout, read=request.timeout)
    try:
        with (
            httpx.Client(base_url=request.url, auth=auth, timeout=timeout) as client,
            client.stream("GET", EXPORT_PATH, params=request.filters) as response,
        ):
            if response.status_code != 200:
                response.read()
                raise ExportFailed(f"the server answered {response.status_code}: {response.text}")
            announced = response.headers.get("x-roster-count")
            expected = int(announced) if announced and announced.isdigit() else None
            written = _write(response, part, expected, listen)
        os.replace(part, request.path)
    except httpx.HTTPError as exc:
        raise ExportFailed(f"the export stopped: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return written


def _write(response: httpx.Response, part: Path, expected: int | None, listen: Listener) -> int:
    written = 0
    listen(expected, 0)
    with part.open("wb") as out:
        for block in response.iter_bytes(CHUNK):
            out.write(block)
            written += block.count(b"\n")
            listen(expected, written)
        out.flush()
        os.fsync(out.fileno())
    return written
