"""The `spc` kind's baselines: what a point is expected to be, and its sigma.

- `frozen` (default): the first `baseline_points` values the rule sees on
  the stream (centre = mean, sigma = mean moving range / 1.128), learned once
  and kept (`learn`); or `mean` + `sigma` given in the rule. Baseline points
  are not tested.
- `rolling` (`Rolling`): learned from the last `window` (default 1d) of
  in-control points, kept as per-bucket aggregates (count, sum, moving ranges
  within the bucket), never raw: at most MAX_BUCKETS buckets, each of the
  smallest size in BUCKET_SIZES that fits (1d: 2-minute buckets). Centre =
  median of the bucket means; sigma = the larger of the pooled moving-range
  sigma (buckets whose mean moving range is over four times the median left
  out) and 1.4826 × the MAD of the bucket means. The bucket a point falls in
  does not take part in testing it. Points inside an open excursion are left
  out, so an excursion never teaches the baseline that it is normal. Testing
  starts once the window holds `baseline_points` points.
- `seasonal: hour_of_day | day_of_week` (with `rolling`): the expected value
  at a time is the median of the bucket means at the same time of day (or of
  the week, UTC) on the other days (weeks) in the window, so a daily cycle or
  a batch job at a fixed hour is normal; sigma as above, its MAD part over
  those same-time buckets. A time of day the window has not seen yet is not
  tested.

Not a kind: no SPEC; `spc` uses it.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

D2 = 1.128  # d2 for moving ranges of two
MAD_SIGMA = 1.4826  # MAD -> sigma for a normal distribution
BASELINES = ("frozen", "rolling")
SEASONS: Final = {"none": None, "hour_of_day": 86_400, "day_of_week": 604_800}
DEFAULT_WINDOW = 86_400.0
MAX_BUCKETS = 720
# Every size divides a day, so buckets line up with hours and days.
BUCKET_SIZES = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 14_400, 21_600, 43_200, 86_400)


def bucket_for(window: float) -> int:
    """The bucket size (seconds) for a rolling window: the smallest that
    keeps it within MAX_BUCKETS buckets."""
    return next((b for b in BUCKET_SIZES if window / b <= MAX_BUCKETS), BUCKET_SIZES[-1])


def learn(points: list[list[Any]]) -> dict[str, Any]:
    """A frozen baseline from its learning points ([event id, iso time, value])."""
    values = [p[2] for p in points]
    mean = sum(values) / len(values)
    ranges = [abs(b - a) for a, b in itertools.pairwise(values)]
    sigma = (sum(ranges) / len(ranges)) / D2
    return {
        "mean": mean,
        "sigma": sigma,
        "n": len(values),
        "first_event_id": points[0][0],
        "last_event_id": points[-1][0],
        "start": points[0][1],
        "end": points[-1][1],
    }


class Rolling:
    """The in-control points of the last `window`, as per-bucket aggregates:
    {bucket start (epoch seconds): [n, sum, moving-range sum, moving ranges]},
    moving ranges only between consecutive points of one bucket."""

    def __init__(
        self,
        *,
        window: float,
        bucket: int,
        points: int,
        season: int | None,
        saved: Mapping[str, Any] | None,
    ) -> None:
        self.window = window  # seconds
        self.bucket = bucket  # seconds
        self.points = points  # needed before testing starts
        self.season = season  # seconds: a day or a week (seasonal)
        saved = saved or {}
        self.buckets: dict[int, list[float]] = {int(b[0]): list(b[1:]) for b in saved.get("b", [])}
        last = saved.get("last")
        self.last: tuple[int, float] | None = (int(last[0]), last[1]) if last else None
        self._for: int | None = None  # the bucket the cache is for
        self._cache: tuple[float, float, int] | None = None

    def dump(self) -> dict[str, Any]:
        buckets = [[start, *agg] for start, agg in sorted(self.buckets.items())]
        return {"b": buckets, "last": list(self.last) if self.last else None}

    def _bucket(self, at: datetime) -> int:
        return int(at.timestamp()) // self.bucket * self.bucket

    def expected(self, at: datetime) -> tuple[float, float, int] | None:
        """(centre, sigma, points) for a point at `at`, from the buckets
        before its own; None while there is too little to go on."""
        current = self._bucket(at)
        if current != self._for:
            self._for = current
            oldest = current - self.window
            for start in [s for s in self.buckets if s <= oldest]:
                del self.buckets[start]
            self._cache = self._compute(current)
        return self._cache

    def _compute(self, current: int) -> tuple[float, float, int] | None:
        prior = [(s, agg) for s, agg in self.buckets.items() if s != current]
        points = sum(int(agg[0]) for _, agg in prior)
        if points < self.points:
            return None
        period = self.season
        same = prior if period is None else [p for p in prior if p[0] % period == current % period]
        if not same:
            return None
        means = [agg[1] / agg[0] for _, agg in same]
        centre = statistics.median(means)
        mad = statistics.median(abs(m - centre) for m in means) * MAD_SIGMA if len(means) > 2 else 0
        ranged = [agg for _, agg in prior if agg[3]]
        mr = 0.0
        if ranged:
            typical = statistics.median(agg[2] / agg[3] for agg in ranged)
            kept = [agg for agg in ranged if agg[2] / agg[3] <= 4 * typical] or ranged
            mr = sum(a[2] for a in kept) / sum(a[3] for a in kept) / D2
        return centre, max(mr, mad), points

    def add(self, at: datetime, value: float) -> None:
        start = self._bucket(at)
        agg = self.buckets.setdefault(start, [0, 0.0, 0.0, 0])
        agg[0] += 1
        agg[1] += value
        if self.last is not None and self.last[0] == start:
            agg[2] += abs(value - self.last[1])
            agg[3] += 1
        self.last = (start, value)

    def gap(self) -> None:
        """An excursion left points out: no moving range across it."""
        self.last = None
