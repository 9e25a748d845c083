"""The two run profiles (``--quick`` and ``--full``) and the constants shared by the stages."""

from __future__ import annotations

from dataclasses import dataclass

SEED = 42
MAX_BODY_BYTES = 102_400
CONCURRENCY = 4
ANCHOR_COMMIT_ROWS = 1_000
PG_ADMIN_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True, slots=True)
class Profile:
    """How big a run is and how long each part of it may take."""

    name: str
    elements: int
    customer_pool: int
    reps: int
    post_cap_s: float
    drain_cap_s: float


QUICK = Profile("quick", 20_000, 2_000, reps=2, post_cap_s=120.0, drain_cap_s=120.0)
FULL = Profile("full", 200_000, 20_000, reps=5, post_cap_s=300.0, drain_cap_s=300.0)
