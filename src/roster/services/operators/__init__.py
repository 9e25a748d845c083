"""Operators: the dashboard's users (accounts), signing them in, and the session key."""
