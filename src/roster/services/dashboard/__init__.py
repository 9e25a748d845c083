"""What the dashboard's pages show beyond the read API: built from ``services.reads``."""
