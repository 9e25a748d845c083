"""A serve's scrape adds its worker children's counts (multiprocess files) to its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from roster import metrics
from roster.cli.startup import masked


def test_families_of_the_same_name_are_added_up_sample_by_sample() -> None:
    """Counters and histogram buckets of one name add up per label set; other families pass
    through; ``_created`` series are left out."""
    mine, theirs = CollectorRegistry(), CollectorRegistry()
    for registry, n in ((mine, 2), (theirs, 3)):
        Counter("roster_x", "x", ["kind"], registry=registry).labels("a").inc(n)
        Histogram("roster_h", "h", buckets=(1.0,), registry=registry).observe(0.5 * n)
    Counter("roster_only_mine", "m", registry=mine).inc()
    found = {
        (s.name, tuple(s.labels.items())): s.value
        for family in metrics.merged(mine.collect(), theirs.collect())
        for s in family.samples
    }
    assert found[("roster_x_total", (("kind", "a"),))] == 5
    assert found[("roster_h_count", ())] == 2
    assert found[("roster_h_bucket", (("le", "1.0"),))] == 1  # 1.0 is, 1.5 is not
    assert found[("roster_only_mine_total", ())] == 1
    assert not any(name.endswith("_created") for name, _ in found)


def test_a_database_url_is_shown_with_its_password_masked() -> None:
    """The password never shows; the rest of the URL does."""
    assert masked("postgresql://roster:s3cret@db:5432/r") == "postgresql://roster:***@db:5432/r"
    assert masked("sqlite:///./roster.db") == "sqlite:///./roster.db"
