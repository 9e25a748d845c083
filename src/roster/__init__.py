"""Roster: a self-hosted customer data platform core."""

__version__ = "0.1.0"
