"""The `spc` kind's small-shift and likelihood charts, each advanced by one
standardised value z at a time, its statistic kept in the rule's `chart`
state (a JSON dict); each returns the sides beyond its limit ("EWMA+", …).

- `ewma`: the exponentially weighted mean of z, `lambda` (default 0.2),
  beyond `L` (default 3) times its standard deviation.
- `cusum`: the tabular CUSUM of z with allowance `k` (default 0.5) and
  decision interval `h` (default 5); each sum is capped at 2h so a chart
  that signalled comes back within about h / k points of the process.
- `likelihood`: an anomaly score: the two-sided tail probability of the
  newest z and of the mean of the last `recent` (default 10) z, the smaller
  one doubled; it fires below `max_probability` (default 1e-4).

The Shewhart chart (the Western Electric rules) is in `spc` itself. Not a
kind: no SPEC.
"""

from __future__ import annotations

import math
from typing import Any


def ewma(chart: dict[str, Any], z: float, lam: float, limit_l: float) -> list[str]:
    e = chart["e"] = lam * z + (1 - lam) * chart.get("e", 0.0)
    t = chart["t"] = min(chart.get("t", 0.0) + 1, 10_000.0)
    limit = limit_l * math.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * t)))
    return ["EWMA+"] if e > limit else ["EWMA-"] if e < -limit else []


def cusum(chart: dict[str, Any], z: float, k: float, h: float) -> list[str]:
    cap = 2 * h
    up = chart["up"] = min(cap, max(0.0, chart.get("up", 0.0) + z - k))
    down = chart["down"] = min(cap, max(0.0, chart.get("down", 0.0) - z - k))
    return (["CUSUM+"] if up > h else []) + (["CUSUM-"] if down > h else [])


def likelihood(chart: dict[str, Any], z: float, recent: int, max_probability: float) -> list[str]:
    """How rare the newest point and the mean of the last `recent` points are
    if the process is as its baseline says (z ~ N(0, 1), independent): the
    smaller two-sided tail probability, doubled for looking twice. Fires
    below `max_probability`, so a noisy but stable process stays quiet."""
    zs = [*chart.get("zs", []), z][-recent:]
    chart["zs"] = zs
    mean = sum(zs) / len(zs)
    p_point = math.erfc(abs(z) / math.sqrt(2))
    p_recent = math.erfc(abs(mean) * math.sqrt(len(zs)) / math.sqrt(2))
    p = chart["p"] = float(f"{min(1.0, 2 * min(p_point, p_recent)):.3g}")
    if p >= max_probability:
        return []
    side = z if p_point <= p_recent else mean
    return ["LIKELIHOOD+" if side > 0 else "LIKELIHOOD-"]
