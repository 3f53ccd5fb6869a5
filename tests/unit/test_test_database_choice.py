"""The suite's own choice of server (tests/pg.py): SENTINEL_TEST_DATABASE
insists on one kind, and leftover containers are found by their label."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass, field

import pytest

from tests import pg

FALLBACK = pg.Server("postgresql://unused@127.0.0.1:1/x", "embedded")


def refused() -> tuple[pg.Server, object]:
    raise RuntimeError("no such image")


def never() -> bool:
    raise AssertionError("Docker was asked")


def test_the_mode_defaults_to_auto_and_refuses_unknown_values() -> None:
    assert pg.mode({}) == "auto"
    assert pg.mode({pg.MODE_VARIABLE: " Embedded "}) == "embedded"
    with pytest.raises(ValueError, match="expected one of auto, embedded, testcontainers, url"):
        pg.mode({pg.MODE_VARIABLE: "docker"})


def test_embedded_never_asks_docker_and_ignores_the_url() -> None:
    choice = pg.choose(
        "postgresql://db/x", mode="embedded", docker=never, start_embedded=lambda: FALLBACK
    )
    assert choice.server is FALLBACK and choice.note is None


def test_testcontainers_does_not_fall_back() -> None:
    with pytest.raises(RuntimeError, match="no such image"):
        pg.choose(None, mode="testcontainers", docker=never, start_container=refused)


def test_url_needs_the_url() -> None:
    with pytest.raises(ValueError, match=pg.URL_VARIABLE):
        pg.choose(None, mode="url", docker=never)
    assert pg.choose("postgresql://db/x", mode="url", docker=never).server.kind == "external"


def test_auto_falls_back_with_one_line() -> None:
    choice = pg.choose(
        None, docker=lambda: True, start_container=refused, start_embedded=lambda: FALLBACK
    )
    assert choice.server is FALLBACK
    assert choice.note is not None and "\n" not in choice.note and "no such image" in choice.note


@dataclass
class _Container:
    id: str
    labels: dict[str, str]
    removed: list[str] = field(default_factory=list)

    def remove(self, force: bool, v: bool) -> None:
        assert force and v
        self.removed.append(self.id)


@dataclass
class _Containers:
    found: list[_Container]

    def list(self, all: bool, filters: dict[str, str]) -> list[_Container]:
        assert all and filters == {"label": pg.LABEL}
        return self.found


def test_containers_of_sessions_that_are_gone_are_removed() -> None:
    host = socket.gethostname()
    gone_pid = _finished_pid()
    found = [
        _Container("mine", {pg.LABEL: f"{host}:{os.getpid()}"}),
        _Container("gone", {pg.LABEL: f"{host}:{gone_pid}"}),
        _Container("elsewhere", {pg.LABEL: f"other-host:{gone_pid}"}),
        _Container("garbled", {pg.LABEL: "?"}),
    ]
    client = type("Client", (), {"containers": _Containers(found)})()
    assert pg.remove_stale_containers(client) == ["gone"]


def _finished_pid() -> int:
    """A pid no longer running (reused only after the pid space wraps)."""
    process = subprocess.Popen(["true"])
    process.wait(timeout=10)
    return process.pid
