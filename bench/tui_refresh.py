"""How long one full refresh of every dashboard view takes on a large fleet
(1,000 workers, 100,000 runs, 1,000,000 events) against one a hundred times
smaller, in the same run on the same server (alternating, several rounds,
medians). A refresh of a view is `Source.snapshot(view)`: the header counts
plus that view's rows; a full refresh is all five views.

Prints a table and ends with `ratio=<small / large>` (higher is better; 1.0
means the refresh costs the same whatever the size; target ≥ 0.5). Uses
SENTINEL_DATABASE_URL's server, or a throwaway embedded Postgres.

The large fleet also has twenty times the rows on screen (200 workers and 200
streams against 10) and a hundred times the current activity (events a
minute, active runs, open recommendations). `--history` adds a third data
set that isolates history: the small fleet (same screen, same event rate)
with a hundred times its past (1,000,000 events over 100 hours, 100,000
runs), and prints `history_ratio=<small / history>` (1.0: history costs
nothing). Before the timings, the plans of every query on the large data set
are checked for sequential scans over the tables that grow with history.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import throwaway_databases
from sentinel.tui.source import Source
from sentinel.views.statements import SQL, View, statements

SEED = """
INSERT INTO worker (name, worker_role, worker_type, host, status, capabilities, meta,
                    last_heartbeat)
SELECT 'bench-' || g, 'hybrid', 'container', 'host-' || (g %% 50),
       CASE WHEN g %% 10 = 0 THEN 'inactive' WHEN g %% 25 = 1 THEN 'draining' ELSE 'active'
       END::worker_status,
       '{"runtimes": ["python"], "max_concurrent_runs": 4, "sentinel_version": "0.4.0"}',
       jsonb_build_object('pid', g, 'started_at', now() - interval '3 hours'),
       now() - make_interval(secs => g %% 40)
  FROM generate_series(1, %(workers)s) g;

INSERT INTO stream (key) SELECT 'plant-' || (g %% 7) || '/line-' || g || '/press'
  FROM generate_series(1, %(streams)s) g;

-- %(per_stream)s events per stream, spread over the last %(hours)s hours.
INSERT INTO event (source, stream, kind, occurred_at, received_at, external_id, payload)
SELECT 'bench', s.key, 'measurement',
       now() - make_interval(secs => 3600.0 * %(hours)s * g / %(per_stream)s),
       now() - make_interval(secs => 3600.0 * %(hours)s * g / %(per_stream)s),
       s.id || '-' || g, jsonb_build_object('temperature_c', 70 + g %% 20)
  FROM stream s, generate_series(1, %(per_stream)s) g;

-- Workers have caught up with every stream but one in ten.
UPDATE stream SET cursor_xid = CASE WHEN id %% 10 = 0 THEN 0
                                    ELSE (pg_current_xact_id()::text)::bigint + 1 END,
                  cursor = 1;

-- %(windows)s windows per stream; the newest is running, queued or done.
INSERT INTO run (stream_id, window_start, status, attempts, lease_owner, lease_expires_at,
                 event_count, detection_count, evidence_count, recommendation_count, error,
                 started_at, finished_at)
SELECT s.id, date_trunc('minute', now()) - make_interval(mins => w),
       CASE WHEN w = 0 AND s.id %% 3 = 0 THEN 'running'
            WHEN w = 0 AND s.id %% 3 = 1 THEN 'queued'
            WHEN w %% 97 = 5 THEN 'dead'
            WHEN w %% 89 = 7 THEN 'failed'
            ELSE 'succeeded' END::run_status,
       1 + (w %% 97 = 5)::int * 4,
       CASE WHEN w = 0 AND s.id %% 3 = 0 THEN 1 + s.id %% %(workers)s END,
       CASE WHEN w = 0 AND s.id %% 3 = 0 THEN now() + interval '20 seconds' END,
       10, (w %% 10 = 0)::int, (w %% 10 = 0)::int * 3, (w %% 10 = 0)::int,
       CASE WHEN w %% 97 = 5 THEN 'boom' END,
       now() - make_interval(mins => w, secs => 5),
       CASE WHEN w > 0 OR s.id %% 3 = 2 THEN now() - make_interval(mins => w) END
  FROM stream s, generate_series(0, %(windows)s - 1) w;

-- A detection (three evidence items and a recommendation) for one run in ten.
INSERT INTO detection (run_id, rule_ref, stream, kind, severity, summary, fingerprint,
                       first_seen, last_seen)
SELECT r.id, 'press.overtemp', s.key, 'threshold',
       (ARRAY['info', 'warning', 'critical'])[1 + r.id %% 3]::severity,
       'temperature_c above 85', 'fp-' || r.id, r.started_at, r.started_at
  FROM run r JOIN stream s ON s.id = r.stream_id
 WHERE r.detection_count = 1;

INSERT INTO evidence (detection_id, kind, event_id, data)
SELECT d.id, k.kind, NULL, '{"value": 91.5}'
  FROM detection d, (VALUES ('trigger'), ('window'), ('rule')) k(kind);

INSERT INTO recommendation (detection_id, stream, severity, text, status, created)
SELECT d.id, d.stream, d.severity, 'Inspect cooling on ' || d.stream,
       (ARRAY['open', 'open', 'acknowledged', 'dismissed'])[1 + d.id %% 4]::recommendation_status,
       d.first_seen
  FROM detection d;
"""

LARGE = {"workers": 1000, "streams": 1000, "per_stream": 1000, "windows": 100, "hours": 1}
SMALL = {"workers": 10, "streams": 10, "per_stream": 1000, "windows": 100, "hours": 1}
HISTORY = {"workers": 10, "streams": 10, "per_stream": 100_000, "windows": 10_000, "hours": 100}
# Sequential scans over these on a refresh would cost the size of the history.
HISTORY_TABLES = {"event", "run", "detection", "evidence", "recommendation"}


def seed(url: str, sizes: dict[str, int]) -> float:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        # VACUUM marks pages all-visible only once the seed's commit is on
        # disk; with an asynchronous commit (the embedded test server turns
        # synchronous_commit off) it would find it not yet flushed and leave
        # the visibility map empty, so index-only scans would turn into heap
        # fetches by chance. A synchronous commit here makes it settled.
        conn.execute("SET synchronous_commit = on")
        with conn.transaction():
            for statement in SEED.split(";\n"):
                if statement.strip():
                    conn.execute(statement, sizes)  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def seq_scans(url: str) -> list[str]:
    """Every sequential scan over a history table in the plans of the queries
    a full refresh runs, as `query: table`."""
    found = []
    with psycopg.connect(url, autocommit=True) as conn:
        for view in View:
            for name, params in statements(view):
                [(plan,)] = conn.execute(
                    "EXPLAIN (FORMAT JSON) " + SQL[name], {"now": None, **params}
                ).fetchall()
                nodes = [plan[0]["Plan"]]
                while nodes:
                    node = nodes.pop()
                    nodes.extend(node.get("Plans", []))
                    table = node.get("Relation Name")
                    if node["Node Type"] == "Seq Scan" and table in HISTORY_TABLES:
                        found.append(f"{name}: {table}")
    return sorted(set(found))


def refresh(source: Source) -> dict[View, float]:
    times = {}
    for view in View:
        started = time.perf_counter()
        source.snapshot(view)
        times[view] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded databases and print their URLs"
    )
    parser.add_argument(
        "--history", action="store_true", help="also the small fleet with 100x its history"
    )
    args = parser.parse_args()
    sets = {"small": SMALL, "large": LARGE}
    if args.history:
        sets["history"] = HISTORY
    with throwaway_databases(list(sets), keep=args.keep) as urls:
        for (label, sizes), url in zip(sets.items(), urls, strict=True):
            took = seed(url, sizes)
            print(f"seeded {label}: {sizes} in {took:.1f}s", file=sys.stderr)
        scans = seq_scans(urls[1])
        print(f"sequential scans over history tables (large): {', '.join(scans) or 'none'}")
        sources = {label: Source(url) for label, url in zip(sets, urls, strict=True)}
        for source in sources.values():
            refresh(source)  # warm the connections and caches
        samples: dict[str, list[dict[View, float]]] = {label: [] for label in sets}
        for _ in range(args.rounds):
            for label in sets:  # alternate
                samples[label].append(refresh(sources[label]))
        for source in sources.values():
            source.close()

    def median(label: str, view: View | None) -> float:
        if view is None:
            return statistics.median(sum(s.values()) for s in samples[label])
        return statistics.median(s[view] for s in samples[label])

    print(f"{'view':<16}" + "".join(f" {label + ' ms':>11}" for label in sets))
    for view in [*View, None]:
        name = view.value if view else "full refresh"
        print(f"{name:<16}" + "".join(f" {median(label, view) * 1e3:11.2f}" for label in sets))
    if args.history:
        print(f"history_ratio={median('small', None) / median('history', None):.2f}")
    print(f"ratio={median('small', None) / median('large', None):.2f}")


if __name__ == "__main__":
    main()
