"""The read model: every read a person makes (CLI lists, dashboard, API)."""
