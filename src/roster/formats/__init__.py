"""Vendor wire formats: decoding requests into what the services apply."""
