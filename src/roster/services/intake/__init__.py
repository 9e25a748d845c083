"""Accepting writes: who is calling (``auth``) and storing a request as a batch (``accept``)."""
