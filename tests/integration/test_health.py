"""The health endpoints: liveness, readiness that follows its callback, the
Prometheus exposition, 404 for anything else. No database needed."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from sentinel import metrics
from sentinel.health import HealthServer


class Readiness:
    """A readiness callback the test can flip."""

    def __init__(self) -> None:
        self.state: tuple[bool, str] = (False, "not registered yet")
        self.calls = 0

    def __call__(self) -> tuple[bool, str]:
        self.calls += 1
        return self.state


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def server(readiness: Readiness) -> Iterator[HealthServer]:
    health = HealthServer(0, readiness, host="127.0.0.1")
    health.start()
    yield health
    health.stop()


def _get(server: HealthServer, path: str, method: str = "GET") -> tuple[int, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_port_zero_binds_a_free_port(server: HealthServer) -> None:
    assert server.port > 0


def test_healthz_is_ok_while_the_process_runs(server: HealthServer) -> None:
    assert _get(server, "/healthz")[::2] == (200, "ok\n")


def test_readyz_follows_the_callback(server: HealthServer, readiness: Readiness) -> None:
    status, _, body = _get(server, "/readyz")
    assert (status, body.strip()) == (503, "not registered yet")

    readiness.state = (True, "registered as w-1")
    status, _, body = _get(server, "/readyz")
    assert (status, body.strip()) == (200, "registered as w-1")

    readiness.state = (False, "database unreachable")
    status, _, body = _get(server, "/readyz")
    assert (status, body.strip()) == (503, "database unreachable")
    # Liveness does not depend on readiness.
    assert _get(server, "/healthz")[0] == 200


def test_a_failing_readiness_check_is_not_ready(readiness: Readiness) -> None:
    def broken() -> tuple[bool, str]:
        raise RuntimeError("boom")

    with HealthServer(0, broken, host="127.0.0.1") as health:
        status, _, body = _get(health, "/readyz")
        assert status == 503
        assert "boom" in body
        assert _get(health, "/healthz")[0] == 200


def test_metrics_expose_every_sentinel_metric(server: HealthServer) -> None:
    metrics.RUNS_CLAIMED.inc()
    metrics.WORKER_INFO.info({"name": "w-1", "role": "hybrid", "version": "test"})
    status, content_type, body = _get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "version=0.0.4" in content_type
    for name in (
        "sentinel_runs_claimed_total",
        "sentinel_runs_finished_total",
        "sentinel_pass_duration_seconds_bucket",
        "sentinel_events_processed_total",
        "sentinel_detections_total",
        "sentinel_recommendations_total",
        "sentinel_heartbeat_age_seconds",
        "sentinel_lease_losses_total",
        "sentinel_queue_depth",
        "sentinel_runs_in_hand",
        "sentinel_worker_info",
    ):
        assert f"\n{name}" in body, name
    assert 'sentinel_worker_info{name="w-1",role="hybrid",version="test"} 1.0' in body
    assert 'sentinel_runs_finished_total{status="dead"}' in body
    # Only Sentinel's own registry: nothing from prometheus-client's global one.
    assert "python_gc_objects_collected_total" not in body


def test_anything_else_is_404(server: HealthServer) -> None:
    assert _get(server, "/")[0] == 404
    assert _get(server, "/metrics/extra")[0] == 404
    assert _get(server, "/readyz?verbose=1")[0] == 503  # a query string is ignored


def test_head_requests_have_no_body(server: HealthServer) -> None:
    status, _, body = _get(server, "/healthz", method="HEAD")
    assert (status, body) == (200, "")


def test_concurrent_requests(server: HealthServer, readiness: Readiness) -> None:
    readiness.state = (True, "ready")
    results: list[int] = []

    def probe() -> None:
        results.append(_get(server, "/readyz")[0])

    threads = [threading.Thread(target=probe) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == [200] * 16


def test_requests_are_not_logged(server: HealthServer, capfd: pytest.CaptureFixture[str]) -> None:
    _get(server, "/healthz")
    _get(server, "/nope")
    captured = capfd.readouterr()
    assert "GET /" not in captured.err
    assert "GET /" not in captured.out


def test_stop_frees_the_port_and_can_be_called_twice(readiness: Readiness) -> None:
    health = HealthServer(0, readiness, host="127.0.0.1")
    health.start()
    port = health.port
    assert _get(health, "/healthz")[0] == 200
    health.stop()
    health.stop()
    assert health.port == port
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    again = HealthServer(port, readiness, host="127.0.0.1")
    again.start()
    try:
        assert _get(again, "/healthz")[0] == 200
    finally:
        again.stop()


def test_a_taken_port_is_a_clear_error(server: HealthServer, readiness: Readiness) -> None:
    from sentinel.errors import ConfigError

    with pytest.raises(ConfigError, match="SENTINEL_METRICS_PORT"):
        HealthServer(server.port, readiness, host="127.0.0.1").start()
