"""What a worker can run, and where it runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from sentinel import __version__
from sentinel.settings import Settings
from sentinel.types import WorkerType


def detect_runtimes() -> list[str]:
    """Runtimes found on this host, as Attune detects them."""
    runtimes = ["python"]  # we are running in it
    if shutil.which("node") or shutil.which("nodejs"):
        runtimes.append("node")
    if shutil.which("sh") or shutil.which("bash"):
        runtimes.append("shell")
    runtimes.append("native")
    return runtimes


def runtimes(settings: Settings) -> list[str]:
    """SENTINEL_RUNTIMES (environment, then config file) > auto-detection."""
    return settings.runtime_list or detect_runtimes()


def capabilities(settings: Settings, custom: dict[str, Any] | None = None) -> dict[str, Any]:
    caps: dict[str, Any] = {**settings.capabilities, **(custom or {})}
    caps.update(
        runtimes=runtimes(settings),
        max_concurrent_runs=settings.max_concurrent_runs,
        sentinel_version=__version__,
    )
    return caps


def in_container() -> bool:
    if os.environ.get("KUBERNETES_SERVICE_HOST") or Path("/.dockerenv").exists():
        return True
    try:
        cgroup = Path("/proc/1/cgroup").read_text()
    except OSError:
        return False
    return any(marker in cgroup for marker in ("docker", "kubepods", "containerd", "libpod"))


def worker_type(settings: Settings) -> WorkerType:
    if settings.worker_type is not None:
        return settings.worker_type
    return WorkerType.CONTAINER if in_container() else WorkerType.LOCAL
