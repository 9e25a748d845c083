"""Whose turn it is: the fair claim across workspaces (a virtual clock, Zhang 1990).

Every workspace has a *turn*, a time in ms. Among the workspaces whose oldest unfinished batch
is ready, a worker claims the one whose turn comes first (then the oldest batch). Claiming a
group of batches moves the workspace's turn to ``max(turn, now) + elements * COST_MS``, never
more than ``HORIZON_MS`` ahead of now:

- a workspace sending a little (below ``1000 / COST_MS`` elements a second) keeps its turn at
  about now, so its batch is claimed by the next free worker, whatever the others have queued;
- a workspace sending more runs its turn ahead of now and, once a minute ahead, is served
  after every lighter one, in turn with the other heavy ones (each at the horizon, by the time
  it was last served: round robin);
- a turn never lags behind now, so a workspace that was idle earns no credit to monopolise the
  workers when it comes back, and its past flood weighs on it for at most ``HORIZON_MS``.

Only the order of claims changes: each workspace's batches are still applied one group at a time,
in acceptance order.
"""

from __future__ import annotations

#: How far one element moves its workspace's turn ahead (ms).
COST_MS = 10
#: The furthest ahead of now a turn may run (ms).
HORIZON_MS = 60_000


def next_turn(turn: int, now: int, elements: int) -> int:
    """The workspace's turn after a claim of ``elements`` elements at ``now``."""
    return min(max(turn, now) + max(elements, 1) * COST_MS, now + HORIZON_MS)
