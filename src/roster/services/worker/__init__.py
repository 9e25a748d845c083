"""The worker runtime: the loop (``loop``), the lease heartbeat, the retry policy,
housekeeping, and the fault points the process tests use."""
