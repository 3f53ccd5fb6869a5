"""Sentinel: a Postgres-coordinated worker fleet that turns stored process
events into advisory findings."""

__version__ = "0.1.0"
