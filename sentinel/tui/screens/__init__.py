"""Screens over the dashboard: a detection's detail, confirmation, help."""
