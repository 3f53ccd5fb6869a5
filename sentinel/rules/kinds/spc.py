"""`spc`: a control chart on the standardised value z = (value - expected) / sigma.

Baselines (`baseline`): `frozen` (default; or `mean` + `sigma` given),
`rolling` over a `window`, optionally `seasonal: hour_of_day | day_of_week`;
how each learns is in `baselines.py`.

Charts (`chart`): `shewhart` (default): the Western Electric rules in
`rules` (default all), here; `ewma`, `cusum` and `likelihood`, in `charts.py`.

Episodes: one excursion is one finding, whichever rules fire. It opens at
the first violation and closes after `clear_after` (default 8 points, or a
duration) back inside the control limits (|z| <= 3) with no rule violated;
meanwhile every violation updates the finding.

One module: the parameters, the detector loop, the WE rules and the
episode's evidence are read together as the kind; the baselines and charts
it draws on are in their own modules.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinel.rules.conditions import Getter
from sentinel.rules.durations import parse_duration
from sentinel.rules.kinds import charts
from sentinel.rules.kinds._base import (
    KindSpec,
    PassContext,
    Reader,
    State,
    from_iso,
    iso,
    read_number,
    round_sig,
)
from sentinel.rules.kinds.baselines import (
    BASELINES,
    DEFAULT_WINDOW,
    SEASONS,
    Rolling,
    bucket_for,
    learn,
)
from sentinel.rules.kinds.episode import CLEARED, OPEN, Episode
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule

TESTS = ("WE1", "WE2", "WE3", "WE4")
# WE rule -> (window, points needed in it, |z| beyond which a point counts)
_PATTERNS = {"WE1": (1, 1, 3.0), "WE2": (3, 2, 2.0), "WE3": (5, 4, 1.0), "WE4": (8, 8, 0.0)}
_TEXT = {
    "WE1": "1 point beyond 3σ",
    "WE2": "2 of 3 points beyond 2σ on one side",
    "WE3": "4 of 5 points beyond 1σ on one side",
    "WE4": "8 points in a row on one side of the centre",
    "EWMA": "EWMA beyond its control limit",
    "CUSUM": "CUSUM beyond its decision interval",
    "LIKELIHOOD": "the recent points are rarer than max_probability",
}
RECENT = 8
CHARTS = ("shewhart", "ewma", "cusum", "likelihood")
DEFAULT_CLEAR_AFTER = 8  # points: one WE4 run


@dataclass(frozen=True)
class Params:
    field: str
    get: Getter
    baseline_points: int
    mean: float | None
    sigma: float | None
    tests: tuple[str, ...]
    chart: str
    rolling: bool
    window: float  # seconds (rolling)
    bucket: int  # seconds (rolling)
    season: int | None  # seconds: a day or a week (seasonal)
    lam: float
    limit_l: float
    k: float
    h: float
    max_probability: float
    recent: int
    clear_points: int | None
    clear_seconds: float | None

    def describe(self) -> dict[str, Any]:
        if not self.rolling:
            return {"mode": "frozen" if self.sigma is None else "given"}
        seasonal = next(name for name, period in SEASONS.items() if period == self.season)
        return {
            "mode": "rolling",
            "window_seconds": self.window,
            "bucket_seconds": self.bucket,
            "seasonal": seasonal,
        }


def parse(reader: Reader) -> Params | None:
    get = reader.field()
    points = reader.integer("baseline_points", default=25, minimum=2)
    mean = reader.number("mean")
    sigma = reader.number("sigma", positive=True)
    if reader.has("mean") != reader.has("sigma"):
        reader.issue("'mean' and 'sigma' go together")
    if reader.has("mean") and reader.has("baseline_points"):
        reader.issue("give either baseline_points or mean + sigma, not both")
    baseline = _choice(reader, "baseline", BASELINES, "frozen")
    chart = _choice(reader, "chart", CHARTS, "shewhart")
    seasonal = _choice(reader, "seasonal", tuple(SEASONS), "none")
    rolling = baseline == "rolling"
    window = reader.duration("window")
    if rolling and reader.has("mean"):
        reader.issue("a rolling baseline is learned: it takes no mean + sigma")
    if not rolling and reader.has("window"):
        reader.issue("window applies only to baseline: rolling")
    if not rolling and seasonal not in (None, "none"):
        reader.issue("seasonal needs baseline: rolling")
    season = SEASONS.get(seasonal or "none")
    span = window if window is not None else DEFAULT_WINDOW
    if season is not None and span < 2 * season:
        reader.issue(f"seasonal: {seasonal} needs a window of at least two periods")
    tests: tuple[str, ...] = TESTS
    if reader.has("rules"):
        if chart != "shewhart":
            reader.issue("rules (WE1…WE4) apply only to chart: shewhart")
        chosen = reader.raw["rules"]
        if isinstance(chosen, str):
            chosen = [chosen]
        if not isinstance(chosen, list) or not chosen:
            reader.issue(f"rules must be a list of {', '.join(TESTS)}")
        else:
            unknown = [str(t) for t in chosen if t not in TESTS]
            if unknown:
                reader.issue(
                    f"unknown SPC rule(s) {', '.join(unknown)} (one of {', '.join(TESTS)})"
                )
            tests = tuple(t for t in TESTS if t in chosen)
    lam = reader.number("lambda", positive=True)
    if lam is not None and lam > 1:
        reader.issue(f"lambda must be at most 1, not {lam:g}")
    limit_l = reader.number("L", positive=True)
    k = reader.number("k")
    if k is not None and k < 0:
        reader.issue(f"k must not be negative, not {k:g}")
    h = reader.number("h", positive=True)
    max_p = reader.number("max_probability", positive=True)
    if max_p is not None and max_p >= 0.5:
        reader.issue(f"max_probability must be below 0.5, not {max_p:g}")
    recent = reader.integer("recent", default=10, minimum=1)
    if recent is not None and recent > 100:
        reader.issue(f"recent must be at most 100 points, not {recent}")
    for key, wanted in (
        ("lambda", "ewma"),
        ("L", "ewma"),
        ("k", "cusum"),
        ("h", "cusum"),
        ("max_probability", "likelihood"),
        ("recent", "likelihood"),
    ):
        if reader.has(key) and chart != wanted:
            reader.issue(f"{key} applies only to chart: {wanted}")
    clear_points, clear_seconds = _clear_after(reader)
    if reader.issues or get is None or points is None or chart is None or recent is None:
        return None
    return Params(
        field=reader.raw["field"],
        get=get,
        baseline_points=points,
        mean=mean,
        sigma=sigma,
        tests=tests,
        chart=chart,
        rolling=rolling,
        window=span,
        bucket=bucket_for(span),
        season=season,
        lam=lam if lam is not None else 0.2,
        limit_l=limit_l if limit_l is not None else 3.0,
        k=k if k is not None else 0.5,
        h=h if h is not None else 5.0,
        max_probability=max_p if max_p is not None else 1e-4,
        recent=recent,
        clear_points=clear_points,
        clear_seconds=clear_seconds,
    )


def _choice(reader: Reader, key: str, options: tuple[str, ...], default: str) -> str | None:
    if not reader.has(key):
        return default
    value = reader.raw[key]
    if value not in options:
        reader.issue(f"{key} must be one of {', '.join(options)}, not {value!r}")
        return None
    return str(value)


def _clear_after(reader: Reader) -> tuple[int | None, float | None]:
    """`clear_after`: a whole number of points, or a duration ("10m")."""
    if not reader.has("clear_after"):
        return DEFAULT_CLEAR_AFTER, None
    value = reader.raw["clear_after"]
    if type(value) is int:
        if value < 1:
            reader.issue(f"clear_after must be at least 1 point, not {value!r}")
        return value, None
    if isinstance(value, str) and not value.strip().isdigit():
        try:
            seconds = parse_duration(value).total_seconds()
        except ValueError as exc:
            reader.issue(f"clear_after: {exc}")
            return None, None
        if seconds > 0:
            return None, seconds
    reader.issue(f"clear_after must be a whole number of points or a duration, not {value!r}")
    return None, None


# -- the detector ---------------------------------------------------------------


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    frozen: dict[str, Any] | None = state.get("baseline")
    if frozen is None and params.sigma is not None:
        frozen = {"mean": params.mean, "sigma": params.sigma, "n": None, "given": True}
    learning: list[list[Any]] = list(state.get("learning", []))
    rolling = (
        Rolling(
            window=params.window,
            bucket=params.bucket,
            points=params.baseline_points,
            season=params.season,
            saved=state.get("rolling"),
        )
        if params.rolling
        else None
    )
    # (event id, occurred_at, value, z) of the newest tested points, oldest first
    recent: deque[tuple[int, datetime, float, float]] = deque(
        ((p[0], from_iso(p[1]), p[2], p[3]) for p in state.get("recent", [])), maxlen=RECENT
    )
    chart: dict[str, Any] = dict(state.get("chart", {}))
    ep = Episode.load(state.get("episode"))
    saved = state.get("seen") or {}
    # the baseline at the newest tested point: (expected, sigma, n)
    seen: tuple[float, float, int | None] | None = (
        (saved["expected"], saved["sigma"], saved["n"]) if saved else None
    )
    degenerate_reported = False
    patterns = [(test, *_PATTERNS[test]) for test in params.tests]
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        at = event.occurred_at
        if rolling is not None:
            got = rolling.expected(at)
            if got is None:
                rolling.add(at, value)
                continue
            centre, sigma, n = got
        else:
            if frozen is None:
                learning.append([event.id, iso(at), value])
                if len(learning) >= params.baseline_points:
                    frozen = learn(learning)
                    learning = []
                continue
            centre, sigma, n = frozen["mean"], frozen["sigma"], frozen["n"]
        if sigma <= 0:
            if not degenerate_reported:
                ctx.problem(rule, None, "baseline has no spread (sigma 0): points not tested")
                degenerate_reported = True
            if rolling is not None:
                rolling.add(at, value)
            continue
        z = (value - centre) / sigma
        recent.append((event.id, at, value, z))
        if params.chart == "shewhart":
            fired = _we(patterns, recent, z, ep is not None)
        else:
            fired = _chart(params, chart, z)
        seen = (centre, sigma, n)
        if fired:
            if ep is None:
                ep = _open(rule, ctx, event, value, z, (centre, sigma), fired, recent, chart)
                if rolling is not None:
                    rolling.gap()
            extra = {"probability": chart["p"]} if "p" in chart else {}
            ep.hit(event, value, abs(z), fired, z=round(z, 3), **extra)
        elif ep is not None:
            if abs(z) <= 3.0:
                ep.quiet(event)
                if (params.clear_points is not None and ep.calm >= params.clear_points) or (
                    params.clear_seconds is not None and ep.calm_for(event) >= params.clear_seconds
                ):
                    _report(rule, ctx, ep, frozen, _seen(seen), recent, cleared_at=at)
                    ep = None
            else:
                ep.unsettled()
        elif rolling is not None:
            rolling.add(at, value)
    if ep is not None and ep.seen:
        _report(rule, ctx, ep, frozen, _seen(seen), recent)
    out: State = {
        "learning": learning,
        "recent": [[i, iso(at), v, z] for i, at, v, z in recent],
        "chart": chart,
        "episode": ep.dump() if ep is not None else None,
        "seen": _seen(seen),
    }
    if rolling is not None:
        out["rolling"] = rolling.dump()
    else:
        out["baseline"] = frozen if frozen is not None and not frozen.get("given") else None
    return out


def _seen(seen: tuple[float, float, int | None] | None) -> dict[str, Any]:
    if seen is None:
        return {}
    return {"expected": seen[0], "sigma": seen[1], "n": seen[2]}


def _we(
    patterns: list[tuple[str, int, int, float]],
    recent: deque[tuple[int, datetime, float, float]],
    z: float,
    open_: bool,
) -> list[str]:
    """The WE rules (with side) that hold at the newest point."""
    fired: list[str] = []
    zs: list[float] | None = None
    for test, size, needed, limit in patterns:
        if not open_ and -limit <= z <= limit:
            # A pattern that holds without its newest point held one point
            # earlier too, and would have opened the episode then.
            continue
        if zs is None:
            zs = [p[3] for p in recent]
        fired.extend(f"{test}{side}" for side in _violated(zs, size, needed, limit))
    return fired


def _chart(params: Params, chart: dict[str, Any], z: float) -> list[str]:
    """Advance the chart's statistic by z; the sides beyond its limit."""
    if params.chart == "likelihood":
        return charts.likelihood(chart, z, params.recent, params.max_probability)
    if params.chart == "ewma":
        return charts.ewma(chart, z, params.lam, params.limit_l)
    return charts.cusum(chart, z, params.k, params.h)


def _violated(zs: list[float], size: int, needed: int, limit: float) -> str:
    """The sides ("+", "-") on which `needed` of the newest `size` points lie
    beyond `limit` sigmas."""
    if len(zs) < needed:
        return ""
    high = low = 0
    for z in zs[-size:]:
        if z > limit:
            high += 1
        elif z < -limit:
            low += 1
    return ("+" if high >= needed else "") + ("-" if low >= needed else "")


def _test_name(fired: str) -> str:
    return fired.rstrip("+-")


def _open(
    rule: Rule,
    ctx: PassContext,
    event: Event,
    value: float,
    z: float,
    baseline: tuple[float, float],
    fired: list[str],
    recent: deque[tuple[int, datetime, float, float]],
    chart: Mapping[str, Any],
) -> Episode:
    centre, sigma = baseline
    first = fired[0]
    test = _test_name(first)
    size = _PATTERNS[test][0] if test in _PATTERNS else 1
    window = list(recent)[-size:]
    trigger = {
        "test": test,
        "description": _TEXT[test],
        "side": "above" if first.endswith("+") else "below",
        "event_id": event.id,
        "occurred_at": iso(event.occurred_at),
        "value": value,
        "z": round(z, 3),
        **({"probability": chart["p"]} if "p" in chart else {}),
        "expected": round_sig(centre),
        "sigma": round_sig(sigma),
        "points": [
            {"event_id": p[0], "occurred_at": iso(p[1]), "value": p[2], "z": round(p[3], 3)}
            for p in window
        ],
    }
    values = {
        "value": value,
        "z": round(z, 2),
        "mean": round_sig(centre),
        "sigma": round_sig(sigma),
        "test": test,
        "expected": round_sig(centre),
    }
    recommendation = ctx.render(rule, values, event.payload)
    return Episode("spc", event.id, window[0][1], trigger, recommendation)


def _report(
    rule: Rule,
    ctx: PassContext,
    ep: Episode,
    frozen: Mapping[str, Any] | None,
    seen: Mapping[str, Any],
    recent: deque[tuple[int, datetime, float, float]],
    cleared_at: datetime | None = None,
) -> None:
    params: Params = rule.params
    trigger = ep.trigger
    peak = ep.peak or {}
    tests = sorted({_test_name(f) for f in ep.rules}, key=lambda t: (len(t), t))
    sides = sorted({"above" if f.endswith("+") else "below" for f in ep.rules})
    shown = {k: round_sig(v) if isinstance(v, float) else v for k, v in seen.items()}
    baseline = {**params.describe(), **shown}
    if not params.rolling and frozen is not None:
        baseline.update({k: v for k, v in frozen.items() if k != "given"})
    else:
        baseline["mean"] = shown.get("expected")
    summary = (
        f"{params.field} {', '.join(tests)} ({' and '.join(sides)} centre): "
        f"{trigger['value']:g} at z={trigger['z']:+.2f}"
    )
    if ep.points > 1:
        summary += f"; peak {peak.get('value', 0):g} at z={peak.get('z', 0):+.2f}"
        summary += f", {ep.points} points beyond"
    evidence = [
        *(EvidenceItem("point", p["event_id"], p) for p in trigger["points"]),
        EvidenceItem(
            "series",
            None,
            {
                "points": [
                    {"event_id": i, "occurred_at": iso(at), "value": v, "z": round(z, 3)}
                    for i, at, v, z in recent
                ]
            },
        ),
        EvidenceItem("baseline", None, baseline),
    ]
    ep.report(
        rule,
        ctx,
        status=OPEN if cleared_at is None else CLEARED,
        summary=summary,
        evidence=evidence,
        values={},
        cleared_at=cleared_at,
    )


SPEC = KindSpec(
    name="spc",
    keys=frozenset(
        {
            "field",
            "baseline_points",
            "mean",
            "sigma",
            "rules",
            "baseline",
            "window",
            "seasonal",
            "chart",
            "lambda",
            "L",
            "k",
            "h",
            "max_probability",
            "recent",
            "clear_after",
        }
    ),
    required=frozenset({"field"}),
    supplies=frozenset({"value", "field", "z", "mean", "sigma", "test", "expected"}),
    parse=parse,
    run=run,
)
