"""The load generator: a bounded pool of concurrent ``httpx`` requests over real HTTP.

It sends every body once, in order, with at most ``CONCURRENCY`` requests in flight, and stops
early when the wall-clock cap is reached: bounded both by count and by time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.config import CONCURRENCY

MAX_ERRORS_KEPT = 10
#: Bytes of a streamed file read and sent at a time.
FILE_PIECE = 65_536


@dataclass(slots=True)
class LoadResult:
    """What the posting loop saw; times are ``time.time()`` (to compare with the database)."""

    started_at: float = 0.0
    last_ok_at: float = 0.0
    finished_at: float = 0.0
    sent: int = 0
    ok: int = 0
    ok_elements: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    timed_out: bool = False

    def record_error(self, message: str) -> None:
        self.failures += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def summary(self) -> dict[str, Any]:
        seconds = max(self.last_ok_at - self.started_at, 1e-9)
        lat = sorted(self.latencies_ms)
        return {
            "requests_sent": self.sent,
            "requests_ok": self.ok,
            "requests_failed": self.failures,
            "errors": self.errors,
            "timed_out": self.timed_out,
            "accept_seconds": round(seconds, 3),
            "accepted_el_s": round(self.ok_elements / seconds, 1),
            "accepted_req_s": round(self.ok / seconds, 2),
            "latency_p50_ms": round(_percentile(lat, 0.50), 1),
            "latency_p99_ms": round(_percentile(lat, 0.99), 1),
        }


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(slots=True)
class _Plan:
    url: str
    headers: dict[str, str]
    bodies: Sequence[bytes]
    counts: Sequence[int]
    deadline: float
    next_index: Iterator[int]
    ok_status: int = 200


async def _send(client: httpx.AsyncClient, plan: _Plan, result: LoadResult) -> None:
    """One of the pool's loops: take the next body, post it, record the outcome."""
    for index in plan.next_index:
        if time.monotonic() > plan.deadline:
            result.timed_out = True
            return
        result.sent += 1
        began = time.perf_counter()
        try:
            response = await client.post(plan.url, content=plan.bodies[index], headers=plan.headers)
        except httpx.HTTPError as exc:
            result.record_error(f"body {index}: {type(exc).__name__}: {exc}")
            continue
        result.latencies_ms.append((time.perf_counter() - began) * 1000)
        if response.status_code != plan.ok_status:
            result.record_error(f"body {index}: HTTP {response.status_code} {response.text[:300]}")
            continue
        result.ok += 1
        result.ok_elements += plan.counts[index]
        result.last_ok_at = time.time()


async def _post_all(plan: _Plan, base_url: str) -> LoadResult:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    result = LoadResult()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120.0) as client:
        result.started_at = time.time()
        await asyncio.gather(*(_send(client, plan, result) for _ in range(CONCURRENCY)))
    result.finished_at = time.time()
    return result


def post_all(
    base_url: str,
    path: str,
    auth: dict[str, str],
    bodies: Sequence[bytes],
    counts: Sequence[int],
    cap_s: float,
    *,
    ok: int = 200,
) -> LoadResult:
    """POST every body to ``base_url + path``; at most ``cap_s`` seconds of sending; ``ok`` is
    the status of an accepted request."""
    headers = {**auth, "Content-Type": "application/json"}
    deadline = time.monotonic() + cap_s
    plan = _Plan(path, headers, bodies, counts, deadline, iter(range(len(bodies))), ok)
    return asyncio.run(_post_all(plan, base_url))


class _Overdue(Exception):
    """The upload passed its wall-clock cap."""


def _pieces(path: Path, deadline: float) -> Iterator[bytes]:
    """The file, a piece at a time, read while it is sent: never held whole."""
    with path.open("rb") as file:
        while piece := file.read(FILE_PIECE):
            if time.monotonic() > deadline:
                raise _Overdue
            yield piece


def post_file(
    base_url: str,
    path: str,
    headers: dict[str, str],
    file: Path,
    elements: int,
    cap_s: float,
    *,
    ok: int = 202,
) -> tuple[LoadResult, dict[str, Any]]:
    """POST one file as the request body, streamed from disk with its ``Content-Length``; at
    most ``cap_s`` seconds to send it and as long again for the answer. Returns what the load
    saw and the JSON answer (``{}`` unless it was ``ok``)."""
    result = LoadResult(sent=1)
    headers = {**headers, "Content-Length": str(file.stat().st_size)}
    deadline = time.monotonic() + cap_s
    answer: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(cap_s, connect=10.0)) as client:
        result.started_at = time.time()
        began = time.perf_counter()
        try:
            response = client.post(path, content=_pieces(file, deadline), headers=headers)
        except (_Overdue, httpx.TimeoutException) as exc:
            result.timed_out = True
            result.record_error(f"{file.name}: {type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:
            result.record_error(f"{file.name}: {type(exc).__name__}: {exc}")
        else:
            result.latencies_ms.append((time.perf_counter() - began) * 1000)
            if response.status_code != ok:
                result.record_error(
                    f"{file.name}: HTTP {response.status_code} {response.text[:300]}"
                )
            else:
                result.ok, result.ok_elements, result.last_ok_at = 1, elements, time.time()
                answer = response.json()
    result.finished_at = time.time()
    return result, answer


def combined(results: Sequence[LoadResult]) -> LoadResult:
    """Phases posted one after the other, as one load: from the first request to the last."""
    whole = LoadResult(started_at=results[0].started_at, finished_at=results[-1].finished_at)
    for r in results:
        whole.last_ok_at = max(whole.last_ok_at, r.last_ok_at)
        whole.sent += r.sent
        whole.ok += r.ok
        whole.ok_elements += r.ok_elements
        whole.failures += r.failures
        whole.errors += r.errors
        whole.latencies_ms += r.latencies_ms
        whole.timed_out = whole.timed_out or r.timed_out
    return whole
