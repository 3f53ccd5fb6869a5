"""Typed rows and results at the registration boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker says about itself when it registers."""

    name: str
    worker_type: str
    worker_role: str
    host: str
    capabilities: dict[str, Any]
    meta: dict[str, Any]
    runtime: str = "python"
    port: int | None = None


@dataclass(frozen=True)
class Worker:
    id: int
    name: str
    worker_type: str
    worker_role: str
    runtime: str | None
    host: str | None
    port: int | None
    status: str
    capabilities: dict[str, Any]
    meta: dict[str, Any]
    last_heartbeat: datetime | None
    created: datetime
    updated: datetime


@dataclass(frozen=True)
class Beat:
    """The result of one heartbeat."""

    active: bool  # False: the row was marked inactive; register again
    renewed: frozenset[int]  # runs whose lease this beat extended
    lost: frozenset[int]  # runs in hand that someone else holds now
    db_now: datetime


@dataclass(frozen=True)
class Sweep:
    """Workers found dead by one sweep, and what happened to their runs."""

    dead: tuple[str, ...]
    requeued: int
    expired: int
