"""Requests per second of `GET /api/runs?limit=100` through a real `sentinel
api` process (httpx, one keep-alive connection) on 100,000 runs, against the
bare SQL of the same page (the read model's `runs` statement) over one
psycopg connection, on the same database in the same run (alternating
rounds, medians). Also the API's median latency of a shallow page (the
newest) and of a deep one (near the oldest run, through its cursor): a
keyset page costs the same wherever it starts.

Prints a table and ends with `ratio=<api / bare>` (higher is better; target
≥ 0.3). Uses SENTINEL_DATABASE_URL's server, or a throwaway embedded Postgres.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, print_ratio, print_table, throwaway_database
from sentinel.api import tokens
from sentinel.api.responses import encode_cursor
from sentinel.views import filters
from sentinel.views.statements import SQL, View, rows

SEED = """
INSERT INTO stream (key) SELECT 'plant-' || (g %% 7) || '/line-' || g || '/press'
  FROM generate_series(1, 100) g;
INSERT INTO run (stream_id, window_start, status, attempts, event_count, detection_count,
                 evidence_count, recommendation_count, created, started_at, finished_at)
SELECT s.id, now() - make_interval(mins => w), 'succeeded', 1, 10 + w %% 50, (w %% 10 = 0)::int,
       (w %% 10 = 0)::int * 3, (w %% 10 = 0)::int, now() - make_interval(mins => w),
       now() - make_interval(mins => w, secs => 5), now() - make_interval(mins => w)
  FROM stream s, generate_series(1, %(windows)s) w
"""
LIMIT = 100


def seed(url: str, runs: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = on")  # VACUUM sees it settled
        for statement in SEED.split(";\n"):
            conn.execute(statement, {"windows": runs // 100})  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_api(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update({"SENTINEL_DATABASE_URL": url, "SENTINEL_LOG_FORMAT": "json"})
    return subprocess.Popen(
        [sys.executable, "-m", "sentinel", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("sentinel api exited at start")
        try:
            if client.get("/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("sentinel api not ready after 60 s")


def api_round(client: httpx.Client, headers: dict[str, str], n: int, params: Any) -> float:
    """Requests per second of n sequential GETs."""
    started = time.perf_counter()
    for _ in range(n):
        answer = client.get("/api/runs", params=params, headers=headers)
        assert answer.status_code == 200 and len(answer.json()["items"]) == LIMIT
    return n / (time.perf_counter() - started)


def bare_round(conn: psycopg.Connection[Any], n: int) -> float:
    """The same page: the read model's statement, fetched over one connection."""
    name, params = rows(
        View.RUNS, filters.Filter(), limit=LIMIT + 1, show_empty=True, active_first=False
    )
    started = time.perf_counter()
    for _ in range(n):
        found = conn.execute(SQL[name], {"now": None, **params}).fetchall()
        assert len(found) == LIMIT + 1
    return n / (time.perf_counter() - started)


def latency(client: httpx.Client, headers: dict[str, str], params: Any, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get("/api/runs", params=params, headers=headers).raise_for_status()
        times.append(time.perf_counter() - started)
    return median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="per round")
    args = parser.parse_args()
    with throwaway_database() as url:
        seed(url, args.runs)
        with psycopg.connect(url, autocommit=True) as conn:
            token = tokens.create(conn, "bench", ["read"])
            [(oldest,)] = conn.execute("SELECT min(id) FROM run").fetchall()
        port = free_port()
        process = start_api(url, port)
        headers = {"Authorization": f"Bearer {token}"}
        shallow = {"limit": LIMIT}
        deep = {"limit": LIMIT, "cursor": encode_cursor("runs", [oldest + LIMIT + 1])}
        try:
            with (
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
                psycopg.connect(url, autocommit=True) as conn,
            ):
                wait_ready(client, process)
                api_round(client, headers, 20, shallow)  # warm both up
                bare_round(conn, 20)
                api_rates, bare_rates = [], []
                for _ in range(args.rounds):
                    api_rates.append(api_round(client, headers, args.requests, shallow))
                    bare_rates.append(bare_round(conn, args.requests))
                shallow_ms = latency(client, headers, shallow, args.requests)
                deep_ms = latency(client, headers, deep, args.requests)
        finally:
            process.terminate()
            process.wait(timeout=30)
    api, bare = median(api_rates), median(bare_rates)
    print(
        f"{args.runs:,} runs, GET /api/runs?limit={LIMIT}, {args.rounds} rounds of "
        f"{args.requests} requests"
    )
    print_table(
        ["path", "requests/s", "median ms"],
        [
            ["sentinel api (httpx, keep-alive)", api, 1000 / api],
            ["bare SQL, one connection", bare, 1000 / bare],
        ],
    )
    print_table(
        ["api page", "median ms"],
        [["shallow (newest)", shallow_ms], ["deep (near the oldest)", deep_ms]],
    )
    print_ratio(api, bare)


if __name__ == "__main__":
    main()
