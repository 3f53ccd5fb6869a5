"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager; skipped
where the binary is missing) on a free 127.0.0.1 port: a finding's alert is
active there while the finding is, refreshed, and resolved when it clears."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from tests.acceptance.fleet import wait_for
from tests.integration.test_notifications import Plant, pool  # noqa: F401  (the fixture)
from tests.receivers import free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = pytest.mark.skipif(
    BINARY is None, reason="no Alertmanager binary (apt-get install prometheus-alertmanager)"
)

CONFIG = """
route:
  receiver: nobody
  group_wait: 1h
receivers:
  - name: nobody
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    assert BINARY is not None
    (tmp_path / "am.yml").write_text(CONFIG)
    port = free_port()
    log = (tmp_path / "am.log").open("wb")
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, (tmp_path / "am.log").read_text()[-2000:]
        try:
            return httpx.get(url + "/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=30, what="Alertmanager ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _alerts(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(url + "/api/v2/alerts", timeout=5).json()
    return [a for a in found if a["labels"].get("alertname") == "SentinelFinding"]


def test_the_alert_is_active_while_the_finding_is_and_resolved_when_it_clears(
    conn: psycopg.Connection,
    pool: ConnectionPool,  # noqa: F811
    alertmanager: str,
) -> None:
    config = {
        "channels": {"am": {"type": "alertmanager", "url": alertmanager, "refresh": "1m"}},
        "routes": [{"rules": "oven.hot", "channels": ["am"]}],
    }
    plant = Plant(conn, pool, config)
    plant.readings(90)
    plant.run_pass()
    assert plant.deliver() == 1
    [alert] = _alerts(alertmanager)
    assert alert["status"]["state"] == "active"
    assert alert["labels"]["rule"] == "oven.hot"
    assert alert["labels"]["stream"] == "probe/oven"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["description"] == "Inspect cooling on probe/oven."
    first_end = alert["endsAt"]

    # While active, the alert is posted again before its endsAt (the refresh).
    later = plant.db_now() + timedelta(minutes=2)
    assert plant.deliver(later) == 1
    [alert] = _alerts(alertmanager)
    assert alert["endsAt"] > first_end

    plant.readings(60, 60)  # the episode clears: the alert resolves
    plant.run_pass()
    assert plant.deliver(later) == 1
    assert wait_for(lambda: _alerts(alertmanager) == [], timeout=10, what="alert resolved")
    assert [k for k, *_ in plant.outbox()] == ["firing", "repeat", "resolved"]
