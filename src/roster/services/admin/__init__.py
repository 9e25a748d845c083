"""Operating Roster: workspaces and their keys, limits and tiers; purging tombstones."""
