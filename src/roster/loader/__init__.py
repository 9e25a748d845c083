"""``roster load``: a migration from files, sent as the vendors' own requests (a client).

It talks to its target over HTTP only, so it works against a remote Roster or the vendor
itself; it imports nothing of Roster's server side (an import-linter contract says so).
"""
