"""The correctness cross-check after each end-to-end rep: a fast but wrong run must fail.

It compares what the store holds with what was posted: every request accepted, every batch
``done`` with nothing failed or skipped, as many events as event elements, as many customers as
distinct customer ids, as many devices as distinct device ids, and a few last-write-wins samples
read back through the API.
"""

from __future__ import annotations

from typing import Any

import httpx

from bench.dataset import Dataset
from bench.load import LoadResult
from bench.probe import Probe


def expect(problems: list[str], what: str, got: object, want: object) -> None:
    """Add a problem when ``got`` is not ``want``."""
    if got != want:
        problems.append(f"{what}: got {got}, expected {want}")


def check_load(load: LoadResult, requests: int, what: str = "requests accepted") -> list[str]:
    """Every one of ``requests`` accepted, none failed, posting not cut by its cap."""
    problems: list[str] = []
    expect(problems, what, load.ok, requests)
    if load.errors:
        problems.append(f"request errors: {load.errors[:3]}")
    if load.timed_out:
        problems.append("posting hit its wall-clock cap")
    return problems


def check_ledger(
    ledger: dict[str, dict[str, int]], batches: int, elements: int, what: str = "elements"
) -> list[str]:
    """Every batch ``done``: ``batches`` of them, holding ``elements`` elements (``what``),
    every one applied, none failed or skipped."""
    problems: list[str] = []
    done = ledger.get("done", {})
    expect(problems, "batch statuses", sorted(ledger), ["done"])
    expect(problems, "batches done", done.get("batches"), batches)
    expect(problems, f"{what} in done batches", done.get("elements"), elements)
    expect(problems, f"{what} applied", done.get("applied"), elements)
    expect(problems, f"{what} failed", done.get("failed", 0), 0)
    expect(problems, f"{what} skipped", done.get("skipped", 0), 0)
    return problems


def check_counts(counts: dict[str, int], dataset: Dataset) -> list[str]:
    exp = dataset.expected
    problems: list[str] = []
    expect(problems, "events stored", counts["events"], exp.event_elements)
    expect(problems, "customers stored", counts["customers"], len(exp.customers))
    expect(problems, "devices stored", counts["devices"], len(exp.devices))
    return problems


def check_lww(base_url: str, auth: dict[str, str], dataset: Dataset) -> list[str]:
    """Each sampled customer's ``plan`` is the value posted last for it."""
    problems: list[str] = []
    with httpx.Client(base_url=base_url, headers=auth, timeout=30.0) as client:
        for cid, plan in dataset.expected.lww_samples().items():
            response = client.get(f"/v1/customers/{cid}")
            if response.status_code != 200:
                problems.append(f"GET customer {cid}: HTTP {response.status_code}")
                continue
            got = response.json().get("attributes", {}).get("plan")
            expect(problems, f"last-write-wins plan of {cid}", got, plan)
    if not dataset.expected.lww_samples():
        problems.append("no last-write-wins sample in the data set")
    return problems


def cross_check(
    probe: Probe, load: LoadResult, dataset: Dataset, base_url: str, auth: dict[str, str]
) -> dict[str, Any]:
    """Every check's problems (empty when the rep is correct) and what was read back."""
    ledger = probe.ledger()
    counts = probe.counts()
    problems = [
        *check_load(load, len(dataset.bodies)),
        *check_ledger(ledger, len(dataset.bodies), dataset.expected.elements),
        *check_counts(counts, dataset),
        *check_lww(base_url, auth, dataset),
    ]
    return {
        "ok": not problems,
        "problems": problems,
        "counts": counts,
        "ledger": ledger,
        "issues": probe.issues(),
    }
