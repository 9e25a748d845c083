"""Fairness with real processes (issue 18): a workspace sending a small batch now and then is
served by the next free worker while other workspaces flood the queue, on both stores.

Asserted by order, not time: between a light batch's acceptance and its claim, at most one
group of each flooder is claimed (their turns start at the front, like every new workspace's),
although each light batch finishes ahead of flood batches accepted before it. The old claim
(oldest head first) made it wait behind the whole backlog.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from process_kit import (
    Cluster,
    Poster,
    client,
    drain,
    opened,
    post_transition,
    rows,
    start_all,
    store_of,
)

from roster_testkit import Tenant

pytestmark = pytest.mark.process

FLOODERS = 3
BACKLOG = 30  # batches each flooder queues before the worker starts
MORE = 20  # and posts while the light workspace sends
LIGHT = 6


def _events(tag: str, n: int) -> list[dict[str, Any]]:
    return [
        {"type": "event", "customer_id": f"{tag}-{i}", "actions": [{"action": "flood"}]}
        for i in range(n)
    ]


def test_a_light_workspace_is_not_starved_by_flooding_ones(
    store_cluster: Cluster,
    make_tenant: Callable[[Cluster, str], Tenant],
    figure: Callable[[str], None],
) -> None:
    cluster = store_cluster
    flooders = [make_tenant(cluster, f"flood-{n}") for n in range(FLOODERS)]
    light = make_tenant(cluster, "light")
    api = cluster.api()
    worker = cluster.worker("w1", ROSTER_GROUP_MAX_BATCHES="2")
    start_all(api)

    def flood(tenant: Tenant, batches: int) -> None:
        with client(api) as http:
            for _ in range(batches):
                response = post_transition(http, tenant, _events(tenant.id[:8], 30))
                assert response.status_code == 200, response.text

    backlog = [Poster(lambda t=t: flood(t, BACKLOG), f"backlog-{t.id}") for t in flooders]
    for p in backlog:
        p.start()
    for p in backlog:
        p.join_ok(60)
    start_all(worker)
    more = [Poster(lambda t=t: flood(t, MORE), f"more-{t.id}") for t in flooders]
    for p in more:
        p.start()
    with client(api) as http:
        for _ in range(LIGHT):
            response = post_transition(http, light, _events("light", 2))
            assert response.status_code == 200, response.text
            time.sleep(0.25)
    for p in more:
        p.join_ok(60)

    with opened(cluster.url) as db:
        drain(db, timeout=90)
        batches = rows(
            db,
            "SELECT workspace_id, status, accepted_at, started_at, finished_at FROM batches "
            "ORDER BY seq",
        )
    assert {b.status for b in batches} == {"done"}
    assert len(batches) == FLOODERS * (BACKLOG + MORE) + LIGHT
    floods = [b for b in batches if b.workspace_id != light.id]
    lights = [b for b in batches if b.workspace_id == light.id]
    # Flood groups (a group's batches share their claim stamp) claimed while each light
    # batch waited, and flood batches accepted before it but claimed after it finished.
    waited_behind = [
        len({f.started_at for f in floods if lb.accepted_at < f.started_at < lb.started_at})
        for lb in lights
    ]
    overtaken = [
        sum(1 for f in floods if f.accepted_at < lb.accepted_at and f.started_at > lb.finished_at)
        for lb in lights
    ]
    figure(
        f"FIGURE fairness store={store_of(cluster)} flooders={FLOODERS} "
        f"flood_batches={len(floods)} light_batches={LIGHT} "
        f"flood_groups_claimed_while_light_waited={waited_behind} "
        f"older_flood_batches_overtaken={overtaken}"
    )
    assert max(waited_behind) <= FLOODERS + 1, waited_behind
    assert max(overtaken) >= 10, overtaken  # there was a backlog to be starved by
