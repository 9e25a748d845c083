"""The HTTP API (FastAPI): vendor-compatible write endpoints and the native read API."""
