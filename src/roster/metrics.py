"""Prometheus metrics a process counts itself: HTTP requests, and what its worker loops do.

Outside the layers, as ``logs`` is: the API and the worker both count here. What every process
shares (batches accepted and applied, the queue) is not counted here: ``GET /metrics`` reads it
from the database at scrape time (``api/metrics.py``), so any process reports the whole store.

The worker processes of ``roster serve --worker-processes`` count into files in a directory
that ``serve`` makes and hands to them (prometheus-client's multiprocess mode, switched on in
the children only, by their environment); ``serve`` adds those files to its own counts at
scrape time. An operator who sets ``PROMETHEUS_MULTIPROC_DIR`` for every Roster process of a
machine gets them all in one scrape the same way (docs/operating.md).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request latencies: from a cached read to a 100 MB upload.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: One apply (a group of batches, or a chunked batch): milliseconds to minutes.
APPLY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(namespace="roster", registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "roster_http_requests",
    "HTTP requests answered by this process, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "roster_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route and status.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)
APPLY_SECONDS = Histogram(
    "roster_apply_duration_seconds",
    "Time a worker took to decide and write one group of batches (or a chunked batch), by "
    "the kind of its first batch.",
    ["kind"],
    buckets=APPLY_BUCKETS,
    registry=REGISTRY,
)
APPLY_ERRORS = Counter(
    "roster_apply_errors",
    "Applies that raised: the batch is retried later, or failed after its last attempt.",
    ["kind"],
    registry=REGISTRY,
)
LEASE_TAKEOVERS = Counter(
    "roster_lease_takeovers",
    "Batches a worker claimed after another worker's lease on them expired.",
    registry=REGISTRY,
)
LEASES_LOST = Counter(
    "roster_leases_lost",
    "Applies that found, at write time, that another worker had taken a batch over "
    "(nothing was written; the batches still held were given back).",
    registry=REGISTRY,
)

#: The directory this process's worker children count into (``roster serve``), if any.
_children_dir: str | None = None


def share_with_children() -> dict[str, str]:
    """Make a directory for the worker processes this one starts to count into, and return the
    environment that makes them do so. Their counts join this process's at scrape time.

    With ``PROMETHEUS_MULTIPROC_DIR`` already set (the operator's choice), the children
    inherit it, and nothing more is needed."""
    global _children_dir
    if os.environ.get(MULTIPROC_ENV):
        return dict(os.environ)
    _children_dir = tempfile.mkdtemp(prefix="roster-metrics-")
    return {**os.environ, MULTIPROC_ENV: _children_dir}


def stop_sharing() -> None:
    """Remove the children's directory (``roster serve`` is stopping)."""
    global _children_dir
    if _children_dir is not None:
        shutil.rmtree(_children_dir, ignore_errors=True)
        _children_dir = None


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """The text a scrape gets: this process's counts (and its worker children's), then the
    families of ``collectors`` (the store's, read now)."""
    families = list(_own_families())
    for collector in collectors:
        families.extend(collector.collect())
    return generate_latest(_Families(families))


def _own_families() -> list[Metric]:
    shared = os.environ.get(MULTIPROC_ENV)
    if shared:  # every Roster process of the machine counts into files: read them all
        return merged(_files_in(shared), [])
    own = REGISTRY.collect()
    if _children_dir is None or not os.path.isdir(_children_dir):
        return merged(own, [])
    return merged(own, _files_in(_children_dir))


def _files_in(directory: str) -> list[Metric]:
    """The counts that processes in multiprocess mode wrote to ``directory``, added up."""
    collector = MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]
    return list(collector.collect())  # type: ignore[no-untyped-call]


def merged(own: Iterable[Metric], others: Iterable[Metric]) -> list[Metric]:
    """Families of the same name added up, sample by sample (counters and histograms). The
    ``_created`` times of this process's own series are left out: they cannot be added, and
    the children's files have none."""
    result: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in [*own, *others]:
        if family.name not in result:
            result[family.name] = Metric(family.name, family.documentation, family.type)
            values[family.name] = {}
        sums = values[family.name]
        for s in family.samples:
            if s.name.endswith("_created"):
                continue
            key = (s.name, tuple(sorted(s.labels.items())))
            sums[key] = sums.get(key, 0.0) + s.value
    for name, family in result.items():
        for (sample, labels), value in values[name].items():
            family.add_sample(sample, dict(labels), value)
    return list(result.values())


class _Families:
    """Families already collected, in the shape ``generate_latest`` reads."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)
