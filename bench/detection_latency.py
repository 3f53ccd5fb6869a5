"""Detection latency: seconds from the commit of the event that makes a fault
detectable to the commit of its detection, with 2 real `sentinel worker`
processes at default settings, while a connector-like producer keeps writing.

The producer (its own process) writes R events/s (5,000 by default) spread
over S streams (500) through the ingest store, the path `sentinel ingest` and
the webhooks take, one transaction every `--batch-ms` (50 ms), for a fixed
time; at known moments it plants a fault (a value past a threshold rule's
limit) in a stream of its own and records the time its transaction committed.
A watcher polls `detection` every 10 ms and records when each fault's finding
is first seen (so a figure is at most 10 ms late). All times are this host's
clock.

Measured twice on fresh databases, side by side: event-driven planning (the
default) and the run interval alone (SENTINEL_EVENT_PLANNING=false). Prints
p50 / p90 / p99 / max per mode and the producer's achieved rate, and ends
with `seconds=<p50 with event-driven planning>` (target: p50 under 1 s, p99
under 2 s). Uses SENTINEL_DATABASE_URL, or a throwaway embedded Postgres.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, throwaway_databases
from sentinel.ingest.store import ingest_events
from sentinel.settings import Settings
from tests.acceptance.fleet import Worker, wait_for

FAULT_RULE = "bench.fault"
PACK = f"""
rules:
  - ref: {FAULT_RULE}
    streams: "bench/*"
    kind: threshold
    field: payload.v
    above: 100
    clear_below: 90
    severity: critical
    recommendation: "{{stream}} reached {{value}}"
  - ref: bench.drift
    streams: "bench/*"
    kind: rate
    field: payload.v
    window: 10s
    max_rise: 100000
    severity: warning
    recommendation: "{{stream}} rises fast"
  - ref: bench.stuck
    streams: "bench/*"
    kind: flatline
    field: payload.v
    points: 50
    severity: info
    recommendation: "{{stream}} is stuck"
"""
MODES = {"event-driven": {}, "interval alone": {"SENTINEL_EVENT_PLANNING": "false"}}
POLL = 0.01


@dataclass(frozen=True)
class Load:
    streams: int
    rate: float
    seconds: float
    faults: int
    batch_ms: float

    def stream(self, i: int) -> str:
        return f"bench/s{i:05d}"

    def fault_streams(self) -> list[int]:
        return [i * self.streams // self.faults for i in range(self.faults)]


def _event(stream: str, n: int, v: float) -> dict[str, Any]:
    return {
        "source": "bench",
        "stream": stream,
        "external_id": f"e{n}",
        "occurred_at": datetime.now(UTC),
        "payload": {"v": round(v, 3)},
    }


def produce(url: str, load: Load, out: Connection) -> None:
    """The connector: batches on a fixed cadence; faults at known moments
    (spread over 10 %-80 % of the run). Sends back each fault's commit time
    and the events written, with the time they took."""
    rng = random.Random(7)
    step = load.batch_ms / 1000
    per_batch = load.rate * step
    faults = load.fault_streams()
    moments = [load.seconds * (0.1 + 0.7 * i / max(1, load.faults - 1)) for i in range(load.faults)]
    committed: dict[str, float] = {}
    n = 0
    carry = 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        out.send("ready")
        out.recv()  # go
        start = time.monotonic()
        tick = start
        while (now := time.monotonic()) < start + load.seconds:
            carry += per_batch
            count, carry = int(carry), carry - int(carry)
            batch = []
            for _ in range(count):
                batch.append(_event(load.stream(n % load.streams), n, rng.gauss(50, 2)))
                n += 1
            planted: list[str] = []
            while moments and now - start >= moments[0]:
                moments.pop(0)
                stream = load.stream(faults[len(committed) + len(planted)])
                batch.append(_event(stream, n, 150.0))
                n += 1
                planted.append(stream)
            if batch:
                ingest_events(conn, batch)
            done = time.time()
            for stream in planted:
                committed[stream] = done
            tick += step
            if (pause := tick - time.monotonic()) > 0:
                time.sleep(pause)
        took = time.monotonic() - start
    out.send((committed, n, took))


def _warm_up(url: str, load: Load) -> None:
    """Every stream exists and has had its first pass: the bench measures the
    steady state, not discovery."""
    with psycopg.connect(url, autocommit=True) as conn:
        ingest_events(conn, [_event(load.stream(i), -i - 1, 50.0) for i in range(load.streams)])
        wait_for(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM stream WHERE last_pass_at IS NOT NULL"
                ).fetchone()
                == (load.streams,)
            ),
            timeout=300,
            what="every stream's first pass",
        )


def measure(url: str, load: Load, env: dict[str, str], logs: Path) -> dict[str, Any]:
    settings = {"SENTINEL_RULES_PATH": str(logs / "pack.yaml"), "SENTINEL_LOG_FORMAT": "json"}
    (logs / "pack.yaml").write_text(PACK)
    workers = [Worker(url, logs, None, {**settings, **env}) for _ in range(2)]
    seen: dict[str, float] = {}
    try:
        wait_for(lambda: all(w.started() for w in workers), what="2 workers started")
        _warm_up(url, load)
        here, there = multiprocessing.Pipe()
        producer = multiprocessing.Process(target=produce, args=(url, load, there))
        producer.start()
        assert here.recv() == "ready"
        here.send("go")
        started = time.monotonic()
        interval = Settings().run_interval_seconds  # the default, in both modes
        deadline: float | None = None
        unseen = [load.stream(i) for i in load.fault_streams()]
        result: tuple[dict[str, float], int, float] | None = None
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                # By stream, not by an id high-water mark: detections commit
                # out of id order.
                rows = conn.execute(
                    "SELECT DISTINCT stream FROM detection"
                    " WHERE rule_ref = %s AND stream = ANY(%s)",
                    [FAULT_RULE, unseen],
                ).fetchall()
                now = time.time()
                for (stream,) in rows:
                    seen.setdefault(stream, now)
                unseen = [s for s in unseen if s not in seen]
                if result is None and here.poll():
                    result = here.recv()
                    # The last fault may wait up to two ticks of the run
                    # interval alone (a pass just before it, then the backlog).
                    deadline = time.monotonic() + 2 * interval + 10
                if result is not None and (
                    len(seen) >= load.faults or time.monotonic() > (deadline or 0)
                ):
                    break
                time.sleep(POLL)
        producer.join()
        with psycopg.connect(url, autocommit=True) as conn:
            runs = conn.execute(
                "SELECT count(*), coalesce(avg(event_count), 0) FROM run"
                " WHERE status = 'succeeded' AND started_at >= now() - make_interval(secs => %s)",
                [time.monotonic() - started],
            ).fetchone()
    finally:
        for worker in workers:
            worker.stop()
    assert result is not None
    committed, events, took = result
    latencies = sorted(seen[s] - t for s, t in committed.items() if s in seen)
    if missed := sorted(set(committed) - set(seen)):
        print(f"not found in time: {', '.join(missed)}", file=sys.stderr)
    assert runs is not None
    return {
        "latencies": latencies,
        "planted": len(committed),
        "rate": events / took,
        "runs": runs[0] / took,
        "per_run": float(runs[1]),
    }


def _pct(values: list[float], q: float) -> float:
    """The q-quantile of sorted values (the median for 0.5)."""
    if not values:
        return float("nan")
    if q == 0.5:
        return statistics.median(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--rate", type=float, default=5000, help="events per second")
    parser.add_argument("--seconds", type=float, default=120, help="how long the producer runs")
    parser.add_argument("--faults", type=int, default=60)
    parser.add_argument("--batch-ms", type=float, default=50, help="the producer's cadence")
    parser.add_argument("--only", choices=list(MODES), help="measure one mode")
    args = parser.parse_args()
    faults = min(args.faults, args.streams)
    load = Load(args.streams, args.rate, args.seconds, faults, args.batch_ms)
    modes = [args.only] if args.only else list(MODES)
    results: dict[str, dict[str, Any]] = {}
    with (
        throwaway_databases([f"latency{i}" for i in range(len(modes))]) as urls,
        tempfile.TemporaryDirectory() as logs,
    ):
        for mode, url in zip(modes, urls, strict=True):
            folder = Path(logs) / f"mode{len(results)}"
            folder.mkdir()
            results[mode] = measure(url, load, MODES[mode], folder)
    print(
        f"{load.streams} streams, {load.rate:,.0f} events/s asked, {load.seconds:g} s, "
        f"{load.faults} faults, 2 workers at default settings"
    )
    rows = []
    for mode, r in results.items():
        lat = r["latencies"]
        rows.append(
            [
                mode,
                f"{len(lat)}/{r['planted']}",
                f"{_pct(lat, 0.5):.3f}",
                f"{_pct(lat, 0.9):.3f}",
                f"{_pct(lat, 0.99):.3f}",
                f"{max(lat) if lat else float('nan'):.3f}",
                f"{r['rate']:,.0f}",
                f"{r['runs']:,.0f}",
                f"{r['per_run']:,.1f}",
            ]
        )
    header = ["planning", "found", "p50 s", "p90 s", "p99 s", "max s", "events/s", "runs/s"]
    print_table([*header, "events/run"], rows)
    first = results[modes[0]]["latencies"]
    print(f"seconds={_pct(first, 0.5):.3f}")


if __name__ == "__main__":
    main()
