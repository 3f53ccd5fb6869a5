"""`spc`: an individuals chart with the Western Electric rules.

The baseline is the first `baseline_points` values the rule sees on the
stream (centre = mean, sigma = mean moving range / 1.128), frozen once
learned and kept in the rule's state; or `mean` + `sigma` from the rule.
Baseline points are not themselves tested. Each WE rule and side is an
episode: it fires once when the rule becomes violated and re-arms when it is
no longer violated, so one excursion is one finding per WE rule.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sentinel.rules.conditions import Getter
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
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule

D2 = 1.128  # d2 for moving ranges of two
TESTS = ("WE1", "WE2", "WE3", "WE4")
# WE rule -> (window, points needed in it, |z| beyond which a point counts)
_PATTERNS = {"WE1": (1, 1, 3.0), "WE2": (3, 2, 2.0), "WE3": (5, 4, 1.0), "WE4": (8, 8, 0.0)}
_TEXT = {
    "WE1": "1 point beyond 3σ",
    "WE2": "2 of 3 points beyond 2σ on one side",
    "WE3": "4 of 5 points beyond 1σ on one side",
    "WE4": "8 points in a row on one side of the centre",
}
RECENT = 8


@dataclass(frozen=True)
class Params:
    field: str
    get: Getter
    baseline_points: int
    mean: float | None
    sigma: float | None
    tests: tuple[str, ...]


def parse(reader: Reader) -> Params | None:
    get = reader.field()
    points = reader.integer("baseline_points", default=25, minimum=2)
    mean = reader.number("mean")
    sigma = reader.number("sigma", positive=True)
    if reader.has("mean") != reader.has("sigma"):
        reader.issue("'mean' and 'sigma' go together")
    if reader.has("mean") and reader.has("baseline_points"):
        reader.issue("give either baseline_points or mean + sigma, not both")
    tests: tuple[str, ...] = TESTS
    if reader.has("rules"):
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
    if reader.issues or get is None or points is None:
        return None
    return Params(reader.raw["field"], get, points, mean, sigma, tests)


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    baseline: dict[str, Any] | None = state.get("baseline")
    if baseline is None and params.sigma is not None:
        baseline = {"mean": params.mean, "sigma": params.sigma, "n": None, "given": True}
    learning: list[list[Any]] = list(state.get("learning", []))
    # (event id, occurred_at, value, z) of the newest points, oldest first
    recent: deque[tuple[int, datetime, float, float]] = deque(
        ((p[0], from_iso(p[1]), p[2], p[3]) for p in state.get("recent", [])), maxlen=RECENT
    )
    active: dict[str, int] = dict(state.get("active", {}))
    degenerate_reported = False
    patterns = [(test, *_PATTERNS[test]) for test in params.tests]
    for event in events:
        value = read_number(params.get, params.field, event)
        if isinstance(value, str):
            ctx.problem(rule, event.id, value)
            continue
        if baseline is None:
            learning.append([event.id, iso(event.occurred_at), value])
            if len(learning) >= params.baseline_points:
                baseline = _learn(learning)
                learning = []
            continue
        if baseline["sigma"] <= 0:
            if not degenerate_reported:
                ctx.problem(rule, None, "baseline has no spread (sigma 0): WE rules skipped")
                degenerate_reported = True
            continue
        z = (value - baseline["mean"]) / baseline["sigma"]
        recent.append((event.id, event.occurred_at, value, z))
        for test, size, needed, limit in patterns:
            if -limit <= z <= limit and not (active and _is_active(active, test)):
                # A pattern that holds without its newest point held one point
                # earlier too, so it would already be active: nothing to do.
                continue
            violated = _violated(recent, size, needed, limit)
            for side in violated:
                key = f"{test}{side}"
                if key not in active:
                    active[key] = event.id
                    _fire(rule, ctx, test, side, event, value, z, baseline, recent)
            for side in "+-":
                if side not in violated:
                    active.pop(f"{test}{side}", None)
    return {
        "baseline": baseline if baseline is not None and not baseline.get("given") else None,
        "learning": learning,
        "recent": [[i, iso(at), v, z] for i, at, v, z in recent],
        "active": active,
    }


def _is_active(active: Mapping[str, int], test: str) -> bool:
    return f"{test}+" in active or f"{test}-" in active


def _learn(points: list[list[Any]]) -> dict[str, Any]:
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


def _violated(
    recent: deque[tuple[int, datetime, float, float]], size: int, needed: int, limit: float
) -> str:
    """The sides ("+", "-") on which `needed` of the newest `size` points lie
    beyond `limit` sigmas."""
    if len(recent) < needed:
        return ""
    high = low = 0
    for point in list(recent)[-size:]:
        z = point[3]
        if z > limit:
            high += 1
        elif z < -limit:
            low += 1
    return ("+" if high >= needed else "") + ("-" if low >= needed else "")


def _fire(
    rule: Rule,
    ctx: PassContext,
    test: str,
    side: str,
    event: Event,
    value: float,
    z: float,
    baseline: Mapping[str, Any],
    recent: deque[tuple[int, datetime, float, float]],
) -> None:
    params: Params = rule.params
    size = _PATTERNS[test][0]
    window = list(recent)[-size:]
    first_at = window[0][1]
    where = "above" if side == "+" else "below"
    evidence = [
        EvidenceItem(
            "trigger",
            event.id,
            {
                "test": test,
                "description": _TEXT[test],
                "side": where,
                "event_id": event.id,
                "occurred_at": iso(event.occurred_at),
                "value": value,
                "z": round(z, 3),
            },
        ),
        *(
            EvidenceItem(
                "point",
                p[0],
                {"event_id": p[0], "occurred_at": iso(p[1]), "value": p[2], "z": round(p[3], 3)},
            )
            for p in window
        ),
        EvidenceItem("baseline", None, {k: v for k, v in baseline.items() if k != "given"}),
    ]
    ctx.find(
        rule,
        kind=f"spc.{test}",
        anchor=event.id,
        anchor_event_id=event.id,
        first_seen=first_at,
        last_seen=event.occurred_at,
        summary=(f"{params.field} {test} ({_TEXT[test]}, {where} centre): {value:g} at z={z:+.2f}"),
        evidence=evidence,
        values={
            "value": value,
            "z": round(z, 2),
            "mean": round_sig(baseline["mean"]),
            "sigma": round_sig(baseline["sigma"]),
            "test": test,
        },
        payload=event.payload,
    )


SPEC = KindSpec(
    name="spc",
    keys=frozenset({"field", "baseline_points", "mean", "sigma", "rules"}),
    required=frozenset({"field"}),
    supplies=frozenset({"value", "field", "z", "mean", "sigma", "test"}),
    parse=parse,
    run=run,
)
