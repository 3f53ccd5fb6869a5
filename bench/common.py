"""What every benchmark shares: throwaway migrated databases (on
SENTINEL_DATABASE_URL's server, or on a throwaway embedded Postgres), medians,
a small table, and the closing `ratio=` line."""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql

from sentinel.db import migrate


@contextmanager
def throwaway_databases(names: Sequence[str], *, keep: bool = False) -> Iterator[list[str]]:
    """One fresh migrated database per name, dropped afterwards (with `keep`,
    left for a look at the data: their URLs go to stderr)."""
    base = os.environ.get("SENTINEL_DATABASE_URL")
    server = None
    if base is None:
        from tests import pg

        server = pg.embedded()
        base = server.admin_url
    info = psycopg.conninfo.conninfo_to_dict(base)
    suffix = uuid.uuid4().hex[:8]
    created = [f"sentinel_bench_{name}_{suffix}" for name in names]
    urls = [psycopg.conninfo.make_conninfo(**{**info, "dbname": n}) for n in created]
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            for name in created:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        for url in urls:
            migrate.upgrade(url)
        yield urls
    finally:
        if keep:
            print(f"kept: {' '.join(urls)}", file=sys.stderr)
        else:
            with psycopg.connect(base, autocommit=True) as conn:
                for name in created:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )
            if server is not None:
                from tests import pg

                pg.destroy(server)


@contextmanager
def throwaway_database() -> Iterator[str]:
    with throwaway_databases(["run"]) as (url,):
        yield url


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain, right-aligned text table."""
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(value.rjust(width) for value, width in zip(row, widths, strict=True)))


def print_ratio(project: float, baseline: float) -> None:
    """The last line of every throughput bench: project / baseline."""
    print(f"ratio={project / baseline:.3f}")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
    return str(value)
