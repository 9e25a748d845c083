"""The ``roster`` command."""
