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
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Mapping, Sequence
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
    moving ranges only between consecutive points of one bucket.

    The buckets other than the one being tested (`_for`) are also kept in
    sorted order (their means; their mean moving ranges, with the sums behind
    them), updated as a bucket enters or leaves, so the centre and sigma for
    a new bucket cost a few bisections, not a pass over the whole window. The
    result depends only on which buckets there are, never on the order they
    came in or how the points were split into passes."""

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
        self._for: int | None = None  # the bucket being tested: not in the order below
        self._cache: tuple[float, float, int] | None = None
        self._stale = True  # the cache is not for the buckets there are now
        # the other buckets: point count, sorted means, sorted (mean moving
        # range, start) with each one's moving-range sum and count alongside
        self._n = 0
        self._means: list[float] = []
        self._ranges: list[tuple[float, int]] = []
        self._range_sums: list[float] = []
        self._range_counts: list[float] = []
        # seasonal: bucket starts by their time of day (week)
        self._phases: dict[int, set[int]] = {}
        for start in self.buckets:
            self._seal(start)
            self._file(start)

    def dump(self) -> dict[str, Any]:
        buckets = [[start, *agg] for start, agg in sorted(self.buckets.items())]
        return {"b": buckets, "last": list(self.last) if self.last else None}

    def _bucket(self, at: datetime) -> int:
        return int(at.timestamp()) // self.bucket * self.bucket

    def _file(self, start: int) -> None:
        if self.season is not None:
            self._phases.setdefault(start % self.season, set()).add(start)

    def _seal(self, start: int) -> None:
        n, total, mr_sum, mr_count = self.buckets[start]
        self._n += int(n)
        insort(self._means, total / n)
        if mr_count:
            key = (mr_sum / mr_count, start)
            at = bisect_left(self._ranges, key)
            self._ranges.insert(at, key)
            self._range_sums.insert(at, mr_sum)
            self._range_counts.insert(at, mr_count)

    def _unseal(self, start: int) -> None:
        n, total, mr_sum, mr_count = self.buckets[start]
        self._n -= int(n)
        del self._means[bisect_left(self._means, total / n)]
        if mr_count:
            at = bisect_left(self._ranges, (mr_sum / mr_count, start))
            del self._ranges[at], self._range_sums[at], self._range_counts[at]

    def expected(self, at: datetime) -> tuple[float, float, int] | None:
        """(centre, sigma, points) for a point at `at`, from the buckets
        other than its own; None while there is too little to go on."""
        current = self._bucket(at)
        if current != self._for:
            if self._for in self.buckets:
                self._seal(self._for)
            if current in self.buckets:
                self._unseal(current)
            self._for = current
            oldest = current - self.window
            for start in [s for s in self.buckets if s <= oldest]:
                self._unseal(start)
                del self.buckets[start]
                if self.season is not None:
                    self._phases[start % self.season].discard(start)
            self._stale = True
        if self._stale:
            self._cache = self._compute(current)
            self._stale = False
        return self._cache

    def _compute(self, current: int) -> tuple[float, float, int] | None:
        if self._n < self.points:
            return None
        if self.season is None:
            means = self._means
        else:  # the same time of day (week) on the other days (weeks) of the window
            same = self._phases.get(current % self.season, set()) - {current}
            means = sorted(self.buckets[s][1] / self.buckets[s][0] for s in same)
        if not means:
            return None
        centre = _median(means)
        mad = _median_deviation(means, centre) * MAD_SIGMA if len(means) > 2 else 0
        mr = 0.0
        if self._ranges:
            ratios = self._ranges
            middle = len(ratios) // 2
            typical = (
                ratios[middle][0]
                if len(ratios) % 2
                else (ratios[middle - 1][0] + ratios[middle][0]) / 2
            )
            # buckets whose mean moving range is over four times the typical one are left out
            kept = bisect_right(ratios, (4 * typical, math.inf))
            mr = sum(self._range_sums[:kept]) / sum(self._range_counts[:kept]) / D2
        return centre, max(mr, mad), self._n

    def add(self, at: datetime, value: float) -> None:
        start = self._bucket(at)
        if start not in self.buckets:
            self.buckets[start] = [0, 0.0, 0.0, 0]
            self._file(start)
        elif start != self._for:  # a late point in another bucket: re-file that bucket
            self._unseal(start)
        agg = self.buckets[start]
        agg[0] += 1
        agg[1] += value
        if self.last is not None and self.last[0] == start:
            agg[2] += abs(value - self.last[1])
            agg[3] += 1
        self.last = (start, value)
        if start != self._for:
            self._seal(start)
            self._stale = True

    def gap(self) -> None:
        """An excursion left points out: no moving range across it."""
        self.last = None


def _median(ordered: Sequence[float]) -> float:
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _median_deviation(ordered: Sequence[float], centre: float) -> float:
    """The median of |x - centre| over sorted values, without building them:
    the deviations below the centre and those above are each sorted, so the
    k-th smallest of both is found by bisection (O(log n))."""
    n = len(ordered)
    split = bisect_left(ordered, centre)
    below = split  # deviations centre - ordered[split - 1 - i], ascending in i
    above = n - split  # deviations ordered[split + j] - centre, ascending in j

    def low(i: int) -> float:
        return centre - ordered[split - 1 - i]

    def high(j: int) -> float:
        return ordered[split + j] - centre

    def smallest(k: int) -> float:  # the k-th smallest deviation, 0-based
        take = k + 1
        lo, hi = max(0, take - above), min(take, below)
        while True:
            i = (lo + hi) // 2  # taken from below; take - i from above
            j = take - i
            if i > 0 and j < above and low(i - 1) > high(j):
                hi = i - 1
            elif j > 0 and i < below and high(j - 1) > low(i):
                lo = i + 1
            else:
                return max(low(i - 1) if i > 0 else -math.inf, high(j - 1) if j > 0 else -math.inf)

    if n % 2:
        return smallest(n // 2)
    return (smallest(n // 2 - 1) + smallest(n // 2)) / 2
