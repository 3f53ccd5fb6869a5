"""Small helpers the benchmarks share: a throwaway migrated database (embedded
Postgres by default, or on SENTINEL_DATABASE_URL's server), medians, a table,
and the closing `ratio=` line."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.common import throwaway_database

__all__ = ["median", "print_ratio", "print_table", "throwaway_database"]


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
