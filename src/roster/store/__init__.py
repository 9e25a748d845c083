"""Adapters for the two stores: schema, migrations and set-based queries."""
