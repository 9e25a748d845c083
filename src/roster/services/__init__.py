"""Use cases: accepting writes, applying batches, reading profiles, managing workspaces."""
