"""``GET /metrics``: Prometheus' text format, for operators (not in the OpenAPI document).

What this process counted itself (requests, and its workers' applies: ``roster.metrics``)
comes first; then what the store holds, read now, so every API process reports the same
shared queue and what every worker, anywhere, applied (``store.queue_stats``). With
``ROSTER_METRICS_TOKEN`` set, a scrape must send it as a bearer token.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from roster import __version__, metrics
from roster.api.deps import container
from roster.store import queue_stats
from roster.store.database import Database

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("roster.api")


@router.get("/metrics")
def scrape(request: Request) -> Response:
    """Every metric, with the store's totals read at this moment."""
    token = container(request).settings.metrics_token
    if token is not None and not _bearer_matches(request, token.get_secret_value()):
        return Response(
            "a metrics token is required: Authorization: Bearer <ROSTER_METRICS_TOKEN>\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="roster-metrics"'},
        )
    body = metrics.exposition([StoreCollector(container(request).db)])
    return Response(body, media_type=metrics.CONTENT_TYPE)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


class StoreCollector:
    """The store's totals and queue as metric families, read once per scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "roster_info", "This Roster: its version and store.", labels=["version", "store"]
        )
        info.add_metric([__version__, self.db.dialect], 1)
        yield info
        started = time.perf_counter()
        try:
            with self.db.read() as conn:
                totals = queue_stats.totals(conn)
                queue = queue_stats.queue(conn)
        except sa.exc.SQLAlchemyError:
            log.warning("metrics.store_unavailable", exc_info=True)
            yield _gauge("roster_store_up", "Whether the store answered this scrape.", 0)
            return
        yield _gauge("roster_store_up", "Whether the store answered this scrape.", 1)
        yield _gauge(
            "roster_store_read_seconds",
            "Time this scrape took to read the store's totals.",
            time.perf_counter() - started,
        )
        yield from _totals_families(totals)
        yield from _queue_families(queue)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _totals_families(totals: list[queue_stats.KindTotals]) -> Iterator[Metric]:
    accepted = CounterMetricFamily(
        "roster_batches_accepted",
        "Batches accepted (stored and acknowledged), by kind. Dry runs are not counted.",
        labels=["kind"],
    )
    finished = CounterMetricFamily(
        "roster_batches_finished",
        "Batches finished, by kind and status: done (applied, with their ledger) or failed "
        "(given up after their last attempt).",
        labels=["kind", "status"],
    )
    elements = CounterMetricFamily(
        "roster_elements",
        "Elements decided by the workers, by kind and outcome (applied, skipped, failed), as "
        "the batches' ledgers count them.",
        labels=["kind", "outcome"],
    )
    retries = CounterMetricFamily(
        "roster_batch_retries",
        "Attempts beyond the first of finished batches (after an error, or a lease taken "
        "over), by kind.",
        labels=["kind"],
    )
    by_kind: dict[str, list[queue_stats.KindTotals]] = {}
    for row in totals:
        by_kind.setdefault(row.kind, []).append(row)
    for kind, rows in sorted(by_kind.items()):
        accepted.add_metric([kind], sum(r.batches for r in rows))
        for outcome in ("applied", "skipped", "failed"):
            elements.add_metric([kind, outcome], sum(getattr(r, outcome) for r in rows))
        for status in ("done", "failed"):
            finished.add_metric([kind, status], sum(r.batches for r in rows if r.status == status))
        retries.add_metric([kind], sum(r.retries for r in rows))
    yield from (accepted, finished, elements, retries)


def _queue_families(queue: queue_stats.Queue) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "roster_queue_batches",
        "Batches not yet finished, by status: queued (waiting, or between attempts) or "
        "processing (in a worker's hands).",
        labels=["status"],
    )
    depth.add_metric(["queued"], queue.queued)
    depth.add_metric(["processing"], queue.processing)
    yield depth
    yield _gauge(
        "roster_queue_elements", "Elements in the batches not yet finished.", queue.elements
    )
    age = 0.0
    if queue.oldest_accepted_at is not None:
        age = max(0.0, time.time() - queue.oldest_accepted_at / 1000)
    yield _gauge(
        "roster_queue_oldest_age_seconds",
        "Age of the oldest batch not yet finished (since it was accepted); 0 when none waits.",
        age,
    )
