"""Events per second through one worker's full sentinel pass (plan, claim,
read the stream's new events, the bundled sample pack's rules, write
detections / evidence / recommendations, the rules' state and the cursor in
the fenced completion) against a bare fetch of the same events: the pass's
own SELECT on a stock psycopg connection, every row fetched to Python,
nothing else. Same database, alternating, several rounds, medians. (The
baseline keeps psycopg's own JSON decoding: the project's faster decoder is
part of what is measured, not of the yardstick.)

The events are the sample plant (sentinel/sample/generate.py) repeated back
to back in time, so every copy carries the injected faults and the pass
writes findings as it would in production.

Ends with `ratio=<pass / fetch>` (higher is better; target ≥ 0.5). Uses
SENTINEL_DATABASE_URL's server, or a throwaway embedded Postgres. Before it,
`adaptive_eps=`: the pure engine alone (no database) on one stream of a
reading a second, through each adaptive SPC mode (rolling, seasonal, EWMA,
CUSUM, likelihood), events per second per rule.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, print_ratio, print_table, throwaway_database
from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.sample import generate
from sentinel.worker.models import Completed
from sentinel.worker.packs import RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import SQL, RunStore

START = datetime(2026, 1, 1, tzinfo=UTC)
MINUTES = 240  # one copy of the sample plant (its faults assume 240 minutes)
BATCH_EVENTS = 50_000  # the worker's default (Settings.batch_events)


# The utilities' days of history (chillers, bearings) end where each copy
# ends: copies of them would overlap in time. They come with the first copy.
LONG_HISTORY = frozenset(
    {*(generate.CHILLER.format(n) for n in (1, 2)), *(generate.BEARING.format(n) for n in (1, 2))}
)


def sample_copies(copies: int) -> Iterator[dict[str, Any]]:
    """The sample plant `copies` times, each shifted after the previous one,
    with external ids made unique per copy."""
    for k in range(copies):
        for event in generate.generate(START + timedelta(minutes=MINUTES * k)):
            if k and event["stream"] in LONG_HISTORY:
                continue
            event["external_id"] = f"{event['external_id']}-c{k:04d}"
            yield event


def load(url: str, copies: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        stored = ingest_events(conn, sample_copies(copies)).accepted
        conn.execute("VACUUM ANALYZE event")
        conn.execute(
            "INSERT INTO worker (name, capabilities, last_heartbeat) "
            "VALUES ('bench-pass', '{\"runtimes\": [\"python\"]}', now())"
        )
    return stored


def rewind(url: str) -> None:
    """Back to before the first pass: cursors and rule state rewound, no findings."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE detection, evidence, recommendation, rule_state CASCADE")
        conn.execute("DELETE FROM run")
        conn.execute("UPDATE stream SET cursor = 0, cursor_xid = 0, last_pass_at = NULL")
        conn.execute("VACUUM ANALYZE run, stream")


def time_pass(url: str) -> tuple[float, int, int]:
    """One worker, one pass per stream, one after the other: seconds, events
    and detections."""
    rewind(url)
    with make_pool(url, max_size=2, name="bench-pass") as pool:
        runner = PassRunner(pool, RuleSource(pool, None), batch_events=BATCH_EVENTS)
        runner.rules.engine()  # the pack is read once per process in a real worker
        with pool.connection() as conn:
            row = conn.execute("SELECT id FROM worker WHERE name = 'bench-pass'").fetchone()
        assert row is not None
        worker_id = int(row[0])
        started = time.perf_counter()
        with pool.connection() as conn:
            store = RunStore(conn)
            store.plan(3600, 5, exact=True)
            claims = store.claim(worker_id, 1000, 600)
        outcomes = [runner.run(claim, worker_id) for claim in claims]
        elapsed = time.perf_counter() - started
    done = [o for o in outcomes if isinstance(o, Completed)]
    assert len(done) == len(outcomes) == len(generate.STREAMS), outcomes
    events = sum(o.counts.events for o in done)
    return elapsed, events, sum(o.counts.detections for o in done)


def time_fetch(url: str) -> tuple[float, int]:
    """The same SELECT the pass runs for each stream, rows to Python, nothing else."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"
        ).fetchone()
        assert row is not None
        upper = int(row[0])
        streams = [r[0] for r in conn.execute("SELECT key FROM stream ORDER BY id")]
        started = time.perf_counter()
        events = 0
        for stream in streams:
            rows = conn.execute(
                SQL["pass_events"], {"stream": stream, "from_xact": 0, "upper": upper}
            ).fetchall()
            events += len(rows)
        elapsed = time.perf_counter() - started
    return elapsed, events


# name -> (the rule's spc keys, seconds between readings); the seasonal one
# reads every 15 s so that its 50,000 readings span days it can compare.
ADAPTIVE_RULES: dict[str, tuple[dict[str, Any], int]] = {
    "rolling 1d": ({"baseline": "rolling", "window": "1d"}, 1),
    "seasonal hour_of_day 7d (15 s)": (
        {"baseline": "rolling", "window": "7d", "seasonal": "hour_of_day"},
        15,
    ),
    "ewma": ({"chart": "ewma"}, 1),
    "cusum": ({"chart": "cusum"}, 1),
    "likelihood (rolling 1d)": ({"baseline": "rolling", "window": "1d", "chart": "likelihood"}, 1),
}


def time_adaptive(events: int = 50_000) -> list[list[Any]]:
    """The engine alone, one rule at a time, over `events` readings a second
    apart (a little deterministic noise): events per second for each."""
    import json as _json

    from sentinel.rules import pack as packs
    from sentinel.rules.engine import Engine
    from sentinel.rules.model import Event

    wave = (0.4, -0.3, 0.2, -0.4, 0.3, -0.2)
    stream = "bench/adaptive"
    rows = []
    for name, (extra, step) in ADAPTIVE_RULES.items():
        batch = [
            Event(i, stream, "measurement", START + timedelta(seconds=i * step),
                  START + timedelta(seconds=i * step), {"v": 50 + wave[i % 6]})
            for i in range(1, events + 1)
        ]  # fmt: skip
        rule = {"ref": "a", "kind": "spc", "field": "payload.v", "streams": "bench/*",
                "severity": "info", "recommendation": "x", **extra}  # fmt: skip
        text = _json.dumps({"rules": [rule]})
        engine = Engine(packs.load_documents({"a.yaml": text}, "bench"))
        started = time.perf_counter()
        engine.run(stream, batch, {}, batch[-1].occurred_at, batch[-1].received_at)
        rows.append([name, events / (time.perf_counter() - started)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--copies",
        type=int,
        default=64,
        help="sample plants back to back (~2,100 events each, the first ~7,800)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    adaptive = time_adaptive()
    print_table(["adaptive spc (engine only)", "events/s"], adaptive)
    print("adaptive_eps=" + ",".join(f"{name}:{eps:.0f}" for name, eps in adaptive))
    with throwaway_database() as url:
        stored = load(url, args.copies)
        time_fetch(url)  # warm the cache for both sides
        ours: list[float] = []
        bare: list[float] = []
        detections = 0
        for _ in range(args.rounds):  # alternate to share the machine's noise
            elapsed, events, detections = time_pass(url)
            assert events == stored, (events, stored)
            ours.append(events / elapsed)
            elapsed, events = time_fetch(url)
            assert events == stored, (events, stored)
            bare.append(events / elapsed)
    pass_rate, fetch_rate = median(ours), median(bare)
    print_table(
        ["path", "events/s (median)", "rounds"],
        [
            ["sentinel pass", pass_rate, ", ".join(f"{v:,.0f}" for v in ours)],
            ["bare fetch", fetch_rate, ", ".join(f"{v:,.0f}" for v in bare)],
        ],
    )
    print(
        f"events={stored} streams={len(generate.STREAMS)} detections={detections} "
        f"rounds={args.rounds} python={sys.version.split()[0]}"
    )
    print(f"pass_eps={pass_rate:.0f} fetch_eps={fetch_rate:.0f}")
    print_ratio(pass_rate, fetch_rate)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
