"""Alarm-system health (EEMUA 191, ISA-18.2): how many findings a person is
asked to look at, and how well the alarm system behaves.

One report, `read(conn, …)`, for `sentinel report alarms`, the dashboard's
Alarms view and its flood banner, and the worker's gauges, so they never
disagree. It is a read of its own rather than a `Views` method: it covers a
period, not a page of rows. The set work is SQL (`alarms.sql`: one scan of
the period's findings, then stale findings and live shelves on their
indexes); here the flood windows are joined into periods and the figures
are set against their targets.

A finding's time is `detection.first_seen`: when its episode opened, on the
events' clock. The period is [now - n × 10 min, now) with n the requested
length rounded up to whole ten minutes, so the last window is always the
last ten minutes (whether the plant is in flood *now*). Figures count the
annunciated findings, those written neither shelved nor suppressed: what a
person was asked to look at. Stale findings and live shelves are as they
stand at `now`, whenever they began.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.db import queries
from sentinel.rules.durations import format_duration
from sentinel.views import filters

SQL = queries.load(Path(__file__).with_name("alarms.sql"))

BUCKET_SECONDS = 600  # the ten-minute window of every rate
FLOOD_START = 10  # a window with more than this many findings starts a flood …
FLOOD_END = 5  # … which ends at the first window with fewer than this
CHATTER_COUNT = 3  # the same rule and stream this many times …
CHATTER_SECONDS = 60.0  # … within this long is chattering
STALE_SECONDS = 86_400.0  # active and unacknowledged for longer than this is stale
TOP_RULES = 10
LIST_LIMIT = 10  # chattering pairs and stale findings listed (all are counted)
SHELF_LIMIT = 100  # live shelves listed (all are counted)
DEFAULT_SINCE = timedelta(days=7)
MAX_SINCE = timedelta(days=366)


@dataclass(frozen=True)
class FloodPeriod:
    start: datetime  # the start of its first window
    end: datetime  # the end of its last window (`now` while ongoing)
    seconds: float
    findings: int
    peak: int  # the most findings in one of its windows
    ongoing: bool  # still in flood in the last window


@dataclass(frozen=True)
class Chattering:
    rule: str
    stream: str
    findings: int  # in the period
    peak_per_minute: int  # the most within CHATTER_SECONDS


@dataclass(frozen=True)
class StaleFinding:
    recommendation_id: int
    detection_id: int
    rule: str
    stream: str
    severity: str
    first_seen: datetime
    age: float


@dataclass(frozen=True)
class RuleShare:
    rule: str
    findings: int
    percent: float  # of all findings in the period


@dataclass(frozen=True)
class ShelfAge:
    id: int
    stream_glob: str
    rule_glob: str | None
    severity: str | None
    reason: str
    actor: str
    created: datetime
    expires_at: datetime
    age: float
    expires_in: float
    findings: int  # written shelved by it in the period, on the selected streams


@dataclass(frozen=True)
class Target:
    """A figure against its target: `meets` when value <= limit."""

    figure: str
    value: float
    limit: float
    meets: bool
    says: str


@dataclass(frozen=True)
class AlarmReport:
    now: datetime
    start: datetime
    stream: str | None  # the stream glob; None: every stream
    bucket_seconds: int
    findings: int  # annunciated findings opened in the period
    shelved_findings: int  # written shelved (not counted above)
    suppressed_findings: int  # written suppressed (not counted above)
    average_per_10m: float
    peak_per_10m: int
    peak_at: datetime | None  # the start of the first window with the peak
    last_10m: int
    in_flood: bool  # the last window is in a flood
    flood_percent: float  # of the period's windows
    floods: tuple[FloodPeriod, ...]
    chattering_total: int  # rule-and-stream pairs
    chattering_findings: int  # their findings in the period
    chattering: tuple[Chattering, ...]  # the LIST_LIMIT worst
    stale_total: int
    stale: tuple[StaleFinding, ...]  # the LIST_LIMIT oldest
    top_rules: tuple[RuleShare, ...]
    top10_percent: float
    by_severity: Mapping[str, int]
    shelves_total: int  # live now
    oldest_shelf_age: float | None
    shelves: tuple[ShelfAge, ...]  # the SHELF_LIMIT oldest
    per_10m: tuple[int, ...]  # findings per window, oldest first
    targets: tuple[Target, ...]

    @property
    def seconds(self) -> float:
        return (self.now - self.start).total_seconds()


def buckets_for(since: timedelta) -> int:
    """The period's windows: `since` rounded up to whole ten minutes."""
    seconds = since.total_seconds()
    if not 0 < seconds <= MAX_SINCE.total_seconds():
        raise ValueError(f"the period must be more than 0 and at most {MAX_SINCE.days}d")
    return max(1, math.ceil(seconds / BUCKET_SECONDS))


def read(
    conn: psycopg.Connection[Any],
    *,
    since: timedelta = DEFAULT_SINCE,
    stream: str | None = None,
    now: datetime | None = None,
) -> AlarmReport:
    """The report over the `since` before `now` (None: the database clock)
    for the streams matching the glob `stream` (as `recommendations list
    --stream` matches them)."""
    buckets = buckets_for(since)
    flt = filters.where(stream=stream)
    stream_re = [filters.regex(t) for t in flt.terms]
    params = {"now": now, "stream_re": stream_re}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            SQL["alarm_findings"],
            {
                **params,
                "buckets": buckets,
                "bucket_seconds": BUCKET_SECONDS,
                "flood_start": FLOOD_START,
                "flood_end": FLOOD_END,
                "chatter_count": CHATTER_COUNT,
                "chatter_seconds": CHATTER_SECONDS,
                "top": TOP_RULES,
                "limit": LIST_LIMIT,
            },
        )
        head = cur.fetchone()
        assert head is not None
        # One clock for all three reads, even on the database's.
        params["now"] = head["now"]
        cur.execute(
            SQL["alarm_stale"], {**params, "stale_seconds": STALE_SECONDS, "limit": LIST_LIMIT}
        )
        stale_rows = cur.fetchall()
        cur.execute(SQL["alarm_shelves"], {**params, "limit": SHELF_LIMIT})
        shelf_rows = cur.fetchall()
    return _report(head, stale_rows, shelf_rows, stream)


def _report(
    head: Mapping[str, Any],
    stale_rows: list[dict[str, Any]],
    shelf_rows: list[dict[str, Any]],
    stream: str | None,
) -> AlarmReport:
    now: datetime = head["now"]
    start: datetime = head["start"]
    per: list[int] = list(head["per_bucket"])
    flooding: list[bool] = list(head["flooding"])
    total = sum(per)
    peak = max(per, default=0)
    floods = _floods(start, now, per, flooding)
    rules = tuple(RuleShare(rule, n, _percent(n, total)) for rule, n in head["rules"])
    top10 = _percent(sum(r.findings for r in rules), total)
    by_shelf = {int(k): int(v) for k, v in head["by_shelf"].items()}
    stale = tuple(StaleFinding(**{k: v for k, v in r.items() if k != "total"}) for r in stale_rows)
    shelves = tuple(
        ShelfAge(**{k: v for k, v in r.items() if k != "total"}, findings=by_shelf.get(r["id"], 0))
        for r in shelf_rows
    )
    average = total / len(per) if per else 0.0
    flood_percent = _percent(sum(flooding), len(per))
    stale_total = stale_rows[0]["total"] if stale_rows else 0
    chattering_total = int(head["chattering_total"])
    return AlarmReport(
        now=now,
        start=start,
        stream=stream,
        bucket_seconds=BUCKET_SECONDS,
        findings=total,
        shelved_findings=int(head["shelved"]),
        suppressed_findings=int(head["suppressed"]),
        average_per_10m=average,
        peak_per_10m=peak,
        peak_at=start + timedelta(seconds=per.index(peak) * BUCKET_SECONDS) if peak else None,
        last_10m=per[-1] if per else 0,
        in_flood=bool(flooding and flooding[-1]),
        flood_percent=flood_percent,
        floods=floods,
        chattering_total=chattering_total,
        chattering_findings=int(head["chattering_findings"]),
        chattering=tuple(Chattering(*row) for row in head["chattering"]),
        stale_total=stale_total,
        stale=stale,
        top_rules=rules,
        top10_percent=top10,
        by_severity={str(k): int(v) for k, v in head["by_severity"].items()},
        shelves_total=shelf_rows[0]["total"] if shelf_rows else 0,
        oldest_shelf_age=shelves[0].age if shelves else None,
        shelves=shelves,
        per_10m=tuple(per),
        targets=targets(average, peak, flood_percent, top10, chattering_total, stale_total),
    )


def _floods(
    start: datetime, now: datetime, per: list[int], flooding: list[bool]
) -> tuple[FloodPeriod, ...]:
    """The runs of consecutive flood windows, as periods."""
    out: list[FloodPeriod] = []
    i = 0
    while i < len(flooding):
        if not flooding[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(flooding) and flooding[j + 1]:
            j += 1
        begin = start + timedelta(seconds=i * BUCKET_SECONDS)
        ongoing = j == len(flooding) - 1
        end = now if ongoing else start + timedelta(seconds=(j + 1) * BUCKET_SECONDS)
        out.append(
            FloodPeriod(
                start=begin,
                end=end,
                seconds=(end - begin).total_seconds(),
                findings=sum(per[i : j + 1]),
                peak=max(per[i : j + 1]),
                ongoing=ongoing,
            )
        )
        i = j + 1
    return tuple(out)


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def targets(
    average: float,
    peak: int,
    flood_percent: float,
    top10_percent: float,
    chattering: int,
    stale: int,
) -> tuple[Target, ...]:
    """EEMUA 191 and ISA-18.2's targets for a well-run alarm system (per
    operator: select one person's area with the stream filter)."""

    def target(figure: str, value: float, limit: float, says: str) -> Target:
        return Target(figure, value, limit, value <= limit, says)

    return (
        target(
            "average_per_10m",
            average,
            1.0,
            "EEMUA 191: about 1 per 10 min per operator (2 at most)",
        ),
        target(
            "peak_per_10m",
            peak,
            float(FLOOD_START),
            f"EEMUA 191: over {FLOOD_START} in 10 min is a flood",
        ),
        target("flood_percent", flood_percent, 1.0, "ISA-18.2: under 1 % of the time"),
        target(
            "top10_percent",
            top10_percent,
            5.0,
            "ISA-18.2: under 1-5 % of all findings",
        ),
        target("chattering_total", chattering, 0.0, "ISA-18.2: none"),
        target("stale_total", stale, 4.0, "ISA-18.2: fewer than 5 on any day"),
    )


@dataclass(frozen=True)
class Figure:
    """One line of the report as people read it (the CLI, the dashboard)."""

    label: str
    value: str
    target: Target | None  # None: a count without a target


def figures(r: AlarmReport) -> tuple[Figure, ...]:
    by = {t.figure: t for t in r.targets}
    peak_at = f" at {r.peak_at.astimezone(UTC):%m-%d %H:%M}" if r.peak_at else ""
    oldest = f", the oldest {format_duration(r.oldest_shelf_age)}" if r.oldest_shelf_age else ""
    severities = " ".join(f"{k} {v}" for k, v in sorted(r.by_severity.items())) or "-"
    return (
        Figure("findings", f"{r.findings:,}", None),
        Figure("per 10 minutes, average", f"{r.average_per_10m:.2f}", by["average_per_10m"]),
        Figure("per 10 minutes, peak", f"{r.peak_per_10m}{peak_at}", by["peak_per_10m"]),
        Figure(
            "time in flood",
            f"{r.flood_percent:.1f} % ({len(r.floods)} floods)",
            by["flood_percent"],
        ),
        Figure(
            "chattering rule/stream pairs",
            f"{r.chattering_total} ({r.chattering_findings} findings)",
            by["chattering_total"],
        ),
        Figure("stale (active, unacked > 24 h)", str(r.stale_total), by["stale_total"]),
        Figure("top 10 rules' share", f"{r.top10_percent:.1f} %", by["top10_percent"]),
        Figure("by severity", severities, None),
        Figure(
            "not counted",
            f"{r.shelved_findings} written shelved, {r.suppressed_findings} suppressed",
            None,
        ),
        Figure("live shelves", f"{r.shelves_total}{oldest}", None),
    )
