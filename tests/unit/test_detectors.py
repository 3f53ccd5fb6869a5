"""The detectors, one kind at a time, and the engine's guarantees: one finding
per episode, incremental passes equal one pass, bad input is a Problem."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.kinds import KINDS
from sentinel.rules.kinds._base import KindSpec
from sentinel.rules.kinds.baselines import Rolling
from sentinel.rules.model import Event, Finding, StreamPass

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
STREAM = "plant-a/line-1/press-1"


def engine(*rules: dict[str, Any]) -> Engine:
    full = [
        {"streams": "plant-a/*", "severity": "warning", "recommendation": "Check {stream}.", **r}
        for r in rules
    ]
    return Engine(packs.load_documents({"t.yaml": yaml.safe_dump({"rules": full})}, "test"))


def series(
    values: Sequence[Any], *, step: float = 60, start_id: int = 1, key: str = "v"
) -> list[Event]:
    """One event a `step` seconds; a value of ... leaves the field out."""
    out = []
    for i, value in enumerate(values):
        at = T0 + timedelta(seconds=i * step)
        payload = {} if value is ... else {key: value}
        out.append(Event(start_id + i, STREAM, "measurement", at, at, payload))
    return out


def at_times(minutes: Sequence[float], payload: dict[str, Any] | None = None) -> list[Event]:
    return [
        Event(
            i + 1,
            STREAM,
            "measurement",
            T0 + timedelta(minutes=m),
            T0 + timedelta(minutes=m),
            dict(payload or {"v": 1}),
        )
        for i, m in enumerate(minutes)
    ]


def run(
    eng: Engine,
    events: Sequence[Event],
    states: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> StreamPass:
    if now is None:
        now = events[-1].occurred_at if events else T0
    last = events[-1].received_at if events else None
    result = eng.run(STREAM, events, states or {}, now, last)
    json.dumps(result.states, allow_nan=False)  # storable as JSON, as is
    return result


def run_split(eng: Engine, events: Sequence[Event], cuts: Sequence[int]) -> list[Finding]:
    """Pass by pass at the cut points, state through a JSON round trip."""
    findings: list[Finding] = []
    states: dict[str, Any] = {}
    bounds = [0, *sorted(set(cuts)), len(events)]
    last_seen: datetime | None = None
    for lo, hi in itertools.pairwise(bounds):
        part = events[lo:hi]
        last_seen = part[-1].received_at if part else last_seen
        now = last_seen or T0
        result = eng.run(STREAM, part, states, now, last_seen)
        states = json.loads(json.dumps(result.states, allow_nan=False))
        findings += result.findings
    return findings


def final(findings: Sequence[Finding]) -> dict[str, tuple[Any, ...]]:
    """Each detection as it ends up stored: an episode is reported again at
    every pass that sees it open, and the newest report wins."""
    out: dict[str, tuple[Any, ...]] = {}
    for f in findings:
        evidence = [(e.kind, e.event_id, e.data) for e in f.evidence]
        out[f.fingerprint] = (f.kind, f.first_seen, f.last_seen, f.summary, evidence)
        out[f.fingerprint] += (f.recommendation,)
    return out


def episode(finding: Finding) -> dict[str, Any]:
    [data] = [e.data for e in finding.evidence if e.kind == "episode"]
    return data


def kinds_of(result: StreamPass | list[Finding]) -> list[str]:
    findings = result.findings if isinstance(result, StreamPass) else result
    return [f.kind for f in findings]


def anchors(result: StreamPass) -> list[int | None]:
    return [f.anchor_event_id for f in result.findings]


HOT = {"ref": "hot", "kind": "threshold", "field": "payload.v", "above": 85, "clear_below": 82}


# -- condition -------------------------------------------------------------------


def test_condition_each_matching_event_is_its_own_finding() -> None:
    eng = engine(
        {
            "ref": "c",
            "kind": "condition",
            "when": {"field": "payload.v", "operator": "greater_than", "value": 5},
            "recommendation": "Look at {stream}: {payload.v} via {rule}.",
        }
    )
    result = run(eng, series([1, 6, 7, 2, 9]))
    assert anchors(result) == [2, 3, 5]
    assert len({f.fingerprint for f in result.findings}) == 3
    first = result.findings[0]
    assert first.recommendation == f"Look at {STREAM}: 6 via c."
    assert [e.kind for e in first.evidence] == ["trigger", "rule"]
    assert first.evidence[-1].data["ref"] == "c"  # the rule as it was


# -- threshold -------------------------------------------------------------------


def test_threshold_hysteresis_one_finding_per_episode() -> None:
    # oscillating between the clear level and the limit stays one episode
    result = run(engine(HOT), series([80, 86, 83, 88, 84, 86, 83, 81, 86, 90]))
    assert anchors(result) == [2, 9]
    assert kinds_of(result) == ["threshold.above", "threshold.above"]
    first, second = result.findings
    # the open episode took every point beyond: last_seen, peak, count
    assert first.summary == "payload.v above 85: 86; peak 88, 3 points beyond (cleared)"
    assert first.last_seen == T0 + timedelta(minutes=5)
    assert episode(first)["status"] == "cleared"
    assert episode(first)["cleared_at"] == (T0 + timedelta(minutes=7)).isoformat()
    assert episode(second)["status"] == "open" and second.summary.endswith("2 points beyond")
    assert first.evidence[0].data["value"] == 86  # the trigger: the first point beyond


def test_threshold_keep_for_is_an_off_delay() -> None:
    rule = {**HOT, "keep_for": "3m"}
    # back below 82 for two minutes, then beyond again: still the same episode
    result = run(engine(rule), series([90, 80, 80, 91, 80, 80, 80, 80, 95]))
    assert anchors(result) == [1, 9]
    first = result.findings[0]
    assert first.last_seen == T0 + timedelta(minutes=3)  # the second point beyond
    assert episode(first)["cleared_at"] == (T0 + timedelta(minutes=7)).isoformat()
    # a point in the hysteresis band restarts the off-delay
    banded = run(engine(rule), series([90, 80, 80, 84, 80, 80, 80, 95]))
    assert anchors(banded) == [1]
    assert len(run(engine(rule), series([90, 80, 80, 84, 80, 80, 80, 80, 95])).findings) == 2


def test_threshold_default_clear_is_the_limit_itself() -> None:
    rule = {"ref": "hot", "kind": "threshold", "field": "payload.v", "above": 85}
    result = run(engine(rule), series([86, 85, 86, 84.9, 86]))
    assert anchors(result) == [1, 5]  # 85 is not beyond, nor below the clear level


def test_threshold_below_with_clear_above_and_both_sides() -> None:
    rule = {
        "ref": "band",
        "kind": "threshold",
        "field": "payload.v",
        "above": 10,
        "below": 0,
        "clear_above": 2,
    }
    result = run(engine(rule), series([5, -1, 1, -2, 3, -1, 11, 12, 5]))
    assert [(f.kind, f.anchor_event_id) for f in result.findings] == [
        ("threshold.below", 2),
        ("threshold.below", 6),
        ("threshold.above", 7),
    ]


def test_threshold_on_delay_needs_the_value_to_stay_beyond_for() -> None:
    rule = {**HOT, "for": "3m"}
    # two minutes beyond then back inside: cancelled; then four minutes beyond: fires once
    result = run(engine(rule), series([90, 90, 84, 90, 91, 92, 93, 94, 95]))
    (finding,) = result.findings
    assert finding.anchor_event_id == 4  # the first event beyond the limit
    assert finding.last_seen - finding.first_seen == timedelta(minutes=5)  # still beyond
    [window] = [e.data for e in finding.evidence if e.kind == "window"]
    assert window["held_seconds"] == 180  # when it fired


def test_threshold_finding_summary_and_recommendation_use_rule_keys() -> None:
    rule = {
        **HOT,
        "recommendation": "Cool {stream}: {field} {value} > {above} (clear {clear_below}).",
    }
    (finding,) = run(engine(rule), series([90])).findings
    assert finding.recommendation == f"Cool {STREAM}: payload.v 90 > 85 (clear 82)."
    assert finding.severity == "warning"


# -- spc -------------------------------------------------------------------------


def spc(*tests: str, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"ref": "spc", "kind": "spc", "field": "payload.v", **extra}
    if "baseline_points" not in extra:
        rule.update(mean=0, sigma=1)
    if tests:
        rule["rules"] = list(tests)
    return rule


def test_spc_we1_one_point_beyond_three_sigma_once_per_excursion() -> None:
    calm = [0.5, -0.5] * 4  # eight points back inside the limits clear an excursion
    values = [0.5, -0.5, 3.5, 3.6, -3.7, *calm, 3.2, *calm[:7], 3.3]
    result = run(engine(spc("WE1")), series(values))
    # 3.5, 3.6, -3.7 one excursion (open until 8 calm points); then 3.2 a new
    # one, and 3.3 seven points later still the same
    assert [(f.kind, f.anchor_event_id) for f in result.findings] == [("spc", 3), ("spc", 14)]
    finding, later = result.findings
    assert [e.kind for e in finding.evidence] == [
        "trigger",
        "episode",
        "point",
        "series",
        "baseline",
        "rule",
    ]
    assert finding.evidence[0].data["z"] == 3.5
    ep = episode(finding)
    assert (ep["status"], ep["points_beyond"], ep["rules"]) == ("cleared", 3, ["WE1+", "WE1-"])
    assert ep["peak"]["value"] == -3.7
    assert finding.last_seen == T0 + timedelta(minutes=4)
    assert episode(later)["status"] == "open" and episode(later)["points_beyond"] == 2


def test_spc_we2_two_of_three_beyond_two_sigma() -> None:
    assert anchors(run(engine(spc("WE2")), series([2.5, 0.5, 2.5]))) == [3]
    assert anchors(run(engine(spc("WE2")), series([2.5, 0.5, -2.5]))) == []  # not one side


def test_spc_we3_four_of_five_beyond_one_sigma() -> None:
    assert anchors(run(engine(spc("WE3")), series([1.5, 1.5, 0.5, 1.5, 1.5]))) == [5]
    assert anchors(run(engine(spc("WE3")), series([1.5, 1.5, 0.5, 1.5, 0.5]))) == []


def test_spc_we4_eight_in_a_row_on_one_side() -> None:
    assert anchors(run(engine(spc("WE4")), series([0.5] * 7))) == []
    result = run(engine(spc("WE4")), series([0.5] * 12 + [-0.1] + [0.5] * 8))
    assert anchors(result) == [8, 21]  # re-arms once a point crosses the centre


def test_spc_all_rules_by_default_with_finding_kind_per_rule() -> None:
    result = run(engine(spc()), series([3.5] * 8))
    (finding,) = result.findings  # one excursion, whichever rules it breaks
    assert episode(finding)["rules"] == ["WE1+", "WE2+", "WE3+", "WE4+"]
    assert finding.summary.startswith("payload.v WE1, WE2, WE3, WE4 (above centre)")


WE_PATTERNS = {"WE1": (1, 1, 3.0), "WE2": (3, 2, 2.0), "WE3": (5, 4, 1.0), "WE4": (8, 8, 0.0)}


def we_reference(zs: Sequence[float], clear_after: int = 8) -> list[tuple[str, int]]:
    """Western Electric episodes the slow way: every test, side and point; an
    episode opens where any pattern holds and closes after `clear_after`
    points inside the limits with no pattern holding."""
    found: list[tuple[str, int]] = []
    open_, calm = False, 0
    for i in range(len(zs)):
        holds = False
        for size, needed, limit in WE_PATTERNS.values():
            window = zs[max(0, i + 1 - size) : i + 1]
            for count in (sum(z > limit for z in window), sum(z < -limit for z in window)):
                holds = holds or (len(window) >= needed and count >= needed)
        if holds:
            if not open_:
                found.append(("spc", i + 1))
            open_, calm = True, 0
        elif open_ and abs(zs[i]) <= 3:
            calm += 1
            if calm >= clear_after:
                open_ = False
    return sorted(found)


@settings(max_examples=200, deadline=None)
@given(
    zs=st.lists(st.sampled_from([-3.5, -2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 3.5]), max_size=40),
    cut=st.integers(0, 40),
)
def test_spc_findings_equal_checking_every_rule_at_every_point(zs: list[float], cut: int) -> None:
    events = series(zs)
    found = run_split(engine(spc()), events, [min(cut, len(events))])
    assert sorted({(f.kind, f.anchor_event_id) for f in found}) == we_reference(zs)


def test_spc_baseline_is_learned_then_frozen() -> None:
    eng = engine(spc(baseline_points=10))
    learning = [1.0, -1.0] * 5  # mean 0, moving range 2 -> sigma 2 / 1.128
    first = run(eng, series(learning))
    assert first.findings == []
    baseline = first.states["spc"]["baseline"]
    assert baseline["n"] == 10 and baseline["mean"] == 0
    assert baseline["sigma"] == pytest.approx(2 / 1.128)
    # later values far away do not move the frozen baseline; they are findings
    later = run(eng, series([8.0] * 3, start_id=11), first.states)
    assert later.states["spc"]["baseline"] == baseline
    assert kinds_of(later) == ["spc"]
    evidence = {e.kind: e.data for e in later.findings[0].evidence}
    assert evidence["trigger"]["test"] == "WE1"
    assert evidence["baseline"]["first_event_id"] == 1
    assert evidence["baseline"]["last_event_id"] == 10
    assert evidence["baseline"]["mode"] == "frozen"


# -- rate ------------------------------------------------------------------------


RATE = {
    "ref": "rate",
    "kind": "rate",
    "field": "payload.v",
    "window": "5m",
    "max_rise": 2,
    "max_fall": 3,
    "max_gap": "3m",
}


def test_rate_rise_and_fall_one_finding_per_episode() -> None:
    values = [0, 0, 5, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, -10, -10]
    result = run(engine(RATE), series(values))
    assert [(f.kind, f.anchor_event_id) for f in result.findings] == [
        ("rate.rise", 3),
        ("rate.fall", 14),
    ]
    rise, fall = result.findings
    assert rise.evidence[0].data["rate_per_minute"] == 2.5
    assert (
        rise.summary
        == "payload.v rising at 2.5/min (limit 2/min); peak 3.333/min, 3 points beyond (cleared)"
    )
    # cleared once a whole window (5 m) passed without a point beyond
    assert episode(rise)["cleared_at"] == (T0 + timedelta(minutes=9)).isoformat()
    assert fall.summary == "payload.v falling at 4/min (limit 3/min); peak 4/min, 2 points beyond"


def test_rate_is_measured_over_the_window_from_its_oldest_point() -> None:
    # +1.5/min sustained never exceeds 2/min, however long
    assert run(engine(RATE), series([i * 1.5 for i in range(20)])).findings == []
    # +3 in one minute after a flat window: (3 - 0) / 1 min > 2
    (finding,) = run(engine(RATE), series([0, 3])).findings
    assert finding.evidence[0].data["rate_per_minute"] == 3


def test_rate_gap_longer_than_max_gap_resets_the_window() -> None:
    events = at_times([0, 1, 10])  # 9 minutes apart: no slope across the gap
    events = [
        Event(e.id, e.stream, e.kind, e.occurred_at, e.received_at, {"v": v})
        for e, v in zip(events, [0, 0, 50], strict=True)
    ]
    rule = {**RATE, "window": "20m"}
    assert run(engine(rule), events).findings == []
    assert len(run(engine({**rule, "max_gap": "10m"}), events).findings) == 1


def test_rate_min_points_waits_for_enough_points() -> None:
    rule = {**RATE, "min_points": 4}
    assert run(engine(rule), series([0, 10, 20])).findings == []
    assert anchors(run(engine(rule), series([0, 10, 20, 30]))) == [4]


# -- flatline --------------------------------------------------------------------


def test_flatline_points_one_finding_per_flat_run() -> None:
    rule = {"ref": "flat", "kind": "flatline", "field": "payload.v", "points": 4}
    result = run(engine(rule), series([1, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6]))
    assert anchors(result) == [2, 8]


def test_flatline_epsilon_tolerates_small_changes() -> None:
    rule = {"ref": "flat", "kind": "flatline", "field": "payload.v", "points": 4, "epsilon": 0.5}
    assert anchors(run(engine(rule), series([10, 10.2, 9.9, 10.3]))) == [1]  # spread 0.4
    assert anchors(run(engine(rule), series([10, 10.2, 9.6, 10.3]))) == []  # spread 0.6


def test_flatline_for_duration() -> None:
    rule = {"ref": "flat", "kind": "flatline", "field": "payload.v", "for": "10m"}
    assert run(engine(rule), series([7] * 10)).findings == []  # 9 minutes
    (finding,) = run(engine(rule), series([7] * 12)).findings
    [window] = [e.data for e in finding.evidence if e.kind == "window"]
    assert finding.anchor_event_id == 1 and window["points"] == 12  # open, still flat
    assert finding.evidence[0].data["event_id"] == 11  # fired at 10 minutes
    assert finding.last_seen == T0 + timedelta(minutes=11)


# -- silence ---------------------------------------------------------------------


SILENCE = {
    "ref": "quiet",
    "kind": "silence",
    "for": "10m",
    "recommendation": "Check {stream}: quiet for {gap}.",
}


def test_silence_gap_between_events_anchors_the_event_before() -> None:
    result = run(engine(SILENCE), at_times([0, 5, 16, 20, 30, 45]))
    assert anchors(result) == [2, 5]  # 5 -> 16 and 30 -> 45; exactly 10 is not over
    assert result.findings[0].recommendation == f"Check {STREAM}: quiet for 11m."


def test_silence_at_pass_time_works_with_zero_new_events_and_fires_once() -> None:
    eng = engine(SILENCE)
    first = run(eng, at_times([0, 2]))
    assert first.findings == []
    later = T0 + timedelta(minutes=20)
    quiet = eng.run(STREAM, [], first.states, later, T0 + timedelta(minutes=2))
    (finding,) = quiet.findings
    assert finding.anchor_event_id == 2 and finding.last_seen == later
    again = eng.run(
        STREAM,
        [],
        quiet.states,
        later + timedelta(minutes=5),
        first.states and T0 + timedelta(minutes=2),
    )
    assert again.findings == []  # the same silence is not reported twice
    # the event that ends the silence has the same anchor: the same finding, now cleared
    closing = at_times([0, 2, 30])[2:]
    ended = eng.run(STREAM, closing, again.states, closing[0].occurred_at, closing[0].received_at)
    assert [f.fingerprint for f in ended.findings] == [finding.fingerprint]
    assert ended.findings[0].summary.endswith("(cleared)")
    whole = run(eng, at_times([0, 2, 30]))
    assert [f.fingerprint for f in whole.findings] == [finding.fingerprint]


def test_silence_on_a_stream_never_seen_counts_from_the_first_pass() -> None:
    eng = engine(SILENCE)
    first = eng.run(STREAM, [], {}, T0, None)
    assert first.findings == []
    (finding,) = eng.run(STREAM, [], first.states, T0 + timedelta(minutes=11), None).findings
    assert finding.anchor_event_id is None
    expected = hashlib.sha256(f"quiet|{STREAM}|silence|empty".encode()).hexdigest()
    assert finding.fingerprint == expected


# -- count -----------------------------------------------------------------------


COUNT = {
    "ref": "burst",
    "kind": "count",
    "count": 3,
    "within": "10m",
    "when": {"field": "payload.level", "operator": "equals", "value": "high"},
    "recommendation": "Review {stream}: {seen} in {within}.",
}


def test_count_sliding_window_one_finding_per_burst() -> None:
    events = at_times([0, 4, 8, 9, 30, 31, 32], {"level": "high"})
    result = run(engine(COUNT), events)
    assert anchors(result) == [1, 5]
    assert result.findings[0].recommendation == f"Review {STREAM}: 3 in 10m."


def test_count_window_slides_rather_than_resets() -> None:
    events = at_times([0, 6, 12, 14], {"level": "high"})
    assert anchors(run(engine(COUNT), events)) == [2]  # 6, 12, 14 within 10 m


def test_count_ignores_events_not_matching_when() -> None:
    events = at_times([0, 1, 2], {"level": "high"})
    events[1] = Event(
        2, STREAM, "measurement", events[1].occurred_at, events[1].received_at, {"level": "low"}
    )
    assert run(engine(COUNT), events).findings == []


# -- the engine ------------------------------------------------------------------


def test_bad_events_are_problems_not_exceptions() -> None:
    events = series([90, ..., "hot", True, None, 80, 91])
    result = run(engine(HOT), events)
    assert anchors(result) == [1, 7]
    reasons = {p.event_id: p.reason for p in result.problems}
    assert reasons == {
        2: "payload.v is missing",
        3: "payload.v is not a number: 'hot'",
        4: "payload.v is a boolean, not a number: True",
        5: "payload.v is null",
    }
    assert {p.rule_ref for p in result.problems} == {"hot"}


def test_a_failing_rule_is_one_problem_and_others_carry_on(monkeypatch: pytest.MonkeyPatch) -> None:
    eng = engine(HOT, {**HOT, "ref": "also-hot"})
    first = run(eng, series([90]))
    real = KINDS["threshold"]

    def explode(rule: Any, ctx: Any, events: Any, state: Any) -> Any:
        if rule.ref == "hot":
            real.run(rule, ctx, events, state)  # emits, then fails: nothing may leak
            raise RuntimeError("boom")
        return real.run(rule, ctx, events, state)

    monkeypatch.setitem(KINDS, "threshold", KindSpec(**{**real.__dict__, "run": explode}))
    result = run(eng, series([80, 90], start_id=2), first.states)
    (problem,) = result.problems
    assert (problem.rule_ref, problem.event_id) == ("hot", None)
    assert "RuntimeError: boom" in problem.reason
    assert result.states["hot"] == first.states["hot"]  # left unchanged
    # also-hot's first episode clears at 80 and a second opens at 90
    assert [f.rule_ref for f in result.findings] == ["also-hot", "also-hot"]


def test_rules_for_matches_globs_skips_disabled_and_caches() -> None:
    eng = engine(
        HOT,
        {**HOT, "ref": "off", "enabled": False},
        {**HOT, "ref": "ovens", "streams": "plant-a/*/oven-*"},
    )
    assert [r.ref for r in eng.rules_for(STREAM)] == ["hot"]
    assert eng.rules_for(STREAM) is eng.rules_for(STREAM)
    assert [r.ref for r in eng.rules_for("plant-a/line-2/oven-1")] == ["hot", "ovens"]
    assert eng.rules_for("ci/main") == ()


def test_kinds_filter_limits_the_events_a_rule_sees() -> None:
    eng = engine({**HOT, "kinds": ["alarm"]})
    result = run(eng, series([90, 91]))
    assert result.findings == [] and result.problems == []


def test_fingerprint_depends_only_on_rule_stream_kind_and_anchor() -> None:
    events = series([80, 90])
    a = run(engine(HOT), events).findings[0]
    b = run(engine(HOT), events, now=T0 + timedelta(days=3)).findings[0]
    assert a.fingerprint == b.fingerprint
    expected = hashlib.sha256(f"hot|{STREAM}|threshold.above|2".encode()).hexdigest()
    assert a.fingerprint == expected


def test_states_are_returned_for_every_applicable_rule_even_without_events() -> None:
    eng = engine(HOT, SILENCE, COUNT)
    result = eng.run(STREAM, [], {}, T0, None)
    assert set(result.states) == {"hot", "quiet", "burst"}


# -- incremental passes equal one pass, for every kind --------------------------------

RULES_BY_KIND: dict[str, dict[str, Any]] = {
    "condition": {
        "ref": "k",
        "kind": "condition",
        "when": {"field": "payload.v", "operator": "greater_than", "value": 6},
    },
    "threshold": {
        "ref": "k",
        "kind": "threshold",
        "field": "payload.v",
        "above": 7,
        "clear_below": 4,
        "below": 1,
        "for": "2m",
    },
    "spc": {"ref": "k", "kind": "spc", "field": "payload.v", "baseline_points": 6},
    "spc_given": {"ref": "k", "kind": "spc", "field": "payload.v", "mean": 4.5, "sigma": 1.2},
    "spc_rolling": {
        "ref": "k",
        "kind": "spc",
        "field": "payload.v",
        "baseline": "rolling",
        "window": "30m",
        "baseline_points": 4,
        "clear_after": "3m",
    },
    "spc_ewma": {
        "ref": "k",
        "kind": "spc",
        "field": "payload.v",
        "mean": 4.5,
        "sigma": 1.2,
        "chart": "ewma",
        "clear_after": 3,
    },
    "spc_likelihood": {
        "ref": "k",
        "kind": "spc",
        "field": "payload.v",
        "baseline_points": 6,
        "chart": "likelihood",
        "max_probability": 0.01,
        "recent": 4,
    },
    "spc_cusum": {
        "ref": "k",
        "kind": "spc",
        "field": "payload.v",
        "mean": 4.5,
        "sigma": 1.2,
        "chart": "cusum",
        "h": 3,
    },
    "rate": {
        "ref": "k",
        "kind": "rate",
        "field": "payload.v",
        "window": "4m",
        "max_rise": 2,
        "max_fall": 2,
        "min_points": 2,
        "max_gap": "5m",
    },
    "flatline": {"ref": "k", "kind": "flatline", "field": "payload.v", "points": 3, "epsilon": 1},
    "silence": {"ref": "k", "kind": "silence", "for": "4m"},
    "count": {
        "ref": "k",
        "kind": "count",
        "count": 3,
        "within": "5m",
        "when": {"field": "payload.v", "operator": "greater_than", "value": 5},
    },
}
values = st.one_of(
    st.sampled_from([0, 2, 5, 6, 7, 8, 8, 9, 9]),
    st.integers(0, 9),
    st.sampled_from([..., "x", True]),
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Event], list[int]]:
    vals = draw(st.lists(values, min_size=1, max_size=60))
    gaps = draw(
        st.lists(
            st.sampled_from([0, 30, 60, 60, 60, 120, 400]), min_size=len(vals), max_size=len(vals)
        )
    )
    events, at = [], T0
    for i, (v, gap) in enumerate(zip(vals, gaps, strict=True)):
        at += timedelta(seconds=gap)
        events.append(Event(i + 1, STREAM, "measurement", at, at, {} if v is ... else {"v": v}))
    cuts = draw(st.lists(st.integers(0, len(events)), max_size=len(events)))
    return events, cuts


@pytest.mark.parametrize("kind", sorted(RULES_BY_KIND))
@settings(max_examples=300, deadline=None)
@given(case=streams())
def test_incremental_passes_equal_one_pass(kind: str, case: tuple[list[Event], list[int]]) -> None:
    events, cuts = case
    eng = engine(RULES_BY_KIND[kind])
    whole = run_split(eng, events, [])
    split = run_split(eng, events, cuts)
    assert len({f.fingerprint for f in whole}) == len(whole)  # one report per episode
    assert final(split) == final(whole)


@pytest.mark.parametrize("kind", sorted(RULES_BY_KIND))
def test_splitting_at_every_point_equals_one_pass(kind: str) -> None:
    vals = [5, 8, 8, 9, 2, 2, 2, 0, 7, 7, 7, 9, 1, 8, 3, 3, 9, 9, 9, 0, 20]
    gaps = [60, 60, 30, 300, 60, 60, 60, 600, 60, 30, 30, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60]
    events, at = [], T0
    for i, (v, g) in enumerate(zip(vals, gaps, strict=True)):
        at += timedelta(seconds=g)
        events.append(Event(i + 1, STREAM, "measurement", at, at, {"v": v}))
    eng = engine(RULES_BY_KIND[kind])
    whole = run_split(eng, events, [])
    assert whole, f"the fixture should exercise {kind}"
    one_by_one = run_split(eng, events, list(range(len(events))))
    assert final(one_by_one) == final(whole)


# -- spc episodes and adaptive baselines --------------------------------------------


def _noisy(n: int, level: float, seed: int = 3) -> list[float]:
    import random

    rng = random.Random(seed)
    return [round(level + rng.gauss(0, 1), 3) for _ in range(n)]


def test_spc_sustained_shift_is_one_finding_across_passes() -> None:
    """A ~2.7σ shift for 300 points: each WE rule used to re-arm at every
    brief return inside the limits (over a hundred findings); now one."""
    values = [0.5, -0.5] * 25 + _noisy(300, 2.7, seed=4) + [0.5, -0.5] * 10
    events = series(values)
    eng = engine(spc())
    whole = run_split(eng, events, [])
    assert len({f.fingerprint for f in whole}) == 1
    finding = whole[-1]  # the engine feeds a long batch in chunks: reported at each
    ep = episode(finding)
    assert ep["status"] == "cleared" and ep["points_beyond"] > 250
    assert finding.last_seen >= events[340].occurred_at
    split = run_split(eng, events, list(range(0, len(events), 7)))
    assert len({f.fingerprint for f in split}) == 1
    assert final(split) == final(whole)
    # the open episode's last_seen advances from pass to pass
    seen = [f.last_seen for f in split]
    assert seen == sorted(seen) and seen[0] < seen[-1]


def _drifting(days: int, per_day: float, step: float = 600) -> list[float]:
    per = int(86_400 / step)
    wave = (0.4, -0.3, 0.2, -0.4, 0.3, -0.2)
    return [round(per_day * i / per + wave[i % 6], 4) for i in range(days * per)]


def test_spc_rolling_baseline_follows_a_drift_that_a_frozen_one_cannot() -> None:
    events = series(_drifting(14, 0.15), step=600)
    frozen = run(engine(spc(baseline_points=25)), events)
    assert frozen.findings  # the frozen baseline is left behind by the drift
    assert episode(frozen.findings[-1])["points_beyond"] > 1000
    rolling = run(engine(spc(baseline_points=25, baseline="rolling", window="1d")), events)
    assert rolling.findings == []
    state = rolling.states["spc"]["rolling"]
    assert len(state["b"]) <= 720


def _daily(days: int, amplitude: float, step: float = 300) -> list[float]:
    per = int(86_400 / step)
    wave = (0.4, -0.3, 0.2, -0.4, 0.3, -0.2)
    return [
        round(20 + amplitude * math.sin(2 * math.pi * i / per) + wave[i % 6], 4)
        for i in range(days * per)
    ]


def test_spc_seasonal_profile_makes_a_daily_cycle_normal_and_still_sees_a_fault() -> None:
    values = _daily(7, 5.0)
    events = series(values, step=300)
    seasonal = {"baseline": "rolling", "window": "3d", "seasonal": "hour_of_day"}
    assert run(engine(spc(baseline_points=25, **seasonal)), events).findings == []
    # without the profile the cycle itself is an excursion, day after day
    plain = run(engine(spc(baseline_points=25, baseline="rolling", window="3d")), events)
    assert len(plain.findings) > 3
    # an hour at +4 on the sixth day is one finding, named against its profile
    faulty = list(values)
    start = 5 * 288 + 100
    for i in range(start, start + 12):
        faulty[i] += 4.0
    (finding,) = run(engine(spc(baseline_points=25, **seasonal)), series(faulty, step=300)).findings
    assert finding.anchor_event_id == start + 1
    [baseline] = [e.data for e in finding.evidence if e.kind == "baseline"]
    assert baseline["mode"] == "rolling" and baseline["seasonal"] == "hour_of_day"
    assert baseline["window_seconds"] == 3 * 86_400 and baseline["bucket_seconds"] == 600
    trigger = finding.evidence[0].data
    assert trigger["expected"] == pytest.approx(values[start], abs=0.5)


def test_spc_rolling_state_stays_bounded_at_one_point_a_second() -> None:
    values = [round(5 + (0.3 if i % 2 else -0.3), 2) for i in range(90_000)]
    rule = spc(baseline="rolling", window="1d", baseline_points=25)
    result = run(engine(rule), series(values, step=1))
    state = result.states["spc"]
    assert len(state["rolling"]["b"]) <= 720  # 2-minute buckets, never raw points
    assert len(json.dumps(state)) < 40_000
    assert result.findings == []


def _rolling_from_scratch(
    buckets: dict[int, list[float]], current: int, season: int | None, window: float
) -> tuple[float, float] | None:
    """The rolling baseline's definition, computed directly (docs/rules.md)."""
    prior = {s: agg for s, agg in buckets.items() if s != current}
    if season is None:
        means = [agg[1] / agg[0] for agg in prior.values()]
    else:
        means = [agg[1] / agg[0] for s, agg in prior.items() if (current - s) % season == 0]
    if not means:
        return None
    centre = statistics.median(means)
    mad = statistics.median(abs(m - centre) for m in means) * 1.4826 if len(means) > 2 else 0
    ranged = [agg for agg in prior.values() if agg[3]]
    mr = 0.0
    if ranged:
        typical = statistics.median(agg[2] / agg[3] for agg in ranged)
        kept = [agg for agg in ranged if agg[2] / agg[3] <= 4 * typical]
        mr = sum(a[2] for a in kept) / sum(a[3] for a in kept) / 1.128
    return centre, max(mr, mad)


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.integers(0, 3 * 86_400), st.floats(-1e3, 1e3)), min_size=1, max_size=120
    ),
    season=st.sampled_from([None, 86_400]),
)
def test_spc_rolling_baseline_is_its_definition_in_any_arrival_order(
    points: list[tuple[int, float]], season: int | None
) -> None:
    """Kept incrementally, the baseline for a point is what its definition
    gives over the buckets there are, and what a baseline restored from the
    saved state gives: late points and pass boundaries change nothing."""
    window = 2 * 86_400.0
    kw: dict[str, Any] = {"window": window, "bucket": 3600, "points": 1, "season": season}
    rolling = Rolling(**kw, saved=None)
    for second, value in points:
        at = T0 + timedelta(seconds=second)
        got = rolling.expected(at)
        restored = Rolling(**kw, saved=rolling.dump()).expected(at)
        assert got == restored
        current = int(at.timestamp()) // 3600 * 3600
        want = _rolling_from_scratch(rolling.buckets, current, season, window)
        assert (got is None) == (want is None)
        if got is not None:
            assert got[:2] == pytest.approx(want, rel=1e-9, abs=1e-9)
        rolling.add(at, value)


def _small_shift() -> list[float]:
    pattern = (1.5, -1.5, 0.0)
    return [pattern[i % 3] + (1.0 if 60 <= i < 120 else 0.0) for i in range(150)]


@pytest.mark.parametrize(("chart", "found"), [("shewhart", 0), ("ewma", 1), ("cusum", 1)])
def test_spc_ewma_and_cusum_see_a_small_shift_the_we_rules_miss(chart: str, found: int) -> None:
    extra: dict[str, Any] = {"chart": chart}
    if chart == "ewma":
        extra.update({"lambda": 0.2, "L": 2.2})
    result = run(engine(spc(**extra)), series(_small_shift()))
    assert len(result.findings) == found
    if found:
        (finding,) = result.findings
        assert 60 < finding.anchor_event_id <= 80
        assert episode(finding)["rules"] == [f"{chart.upper()}+"]
        assert episode(finding)["status"] == "cleared"


@pytest.mark.parametrize(
    ("extra", "issue"),
    [
        ({"baseline": "sliding"}, "baseline must be one of frozen, rolling"),
        ({"seasonal": "hour_of_day"}, "seasonal needs baseline: rolling"),
        ({"baseline": "rolling", "window": "1d", "seasonal": "hour_of_day"}, "two periods"),
        ({"chart": "ewma", "rules": ["WE1"]}, "apply only to chart: shewhart"),
        ({"chart": "cusum", "lambda": 0.3}, "lambda applies only to chart: ewma"),
        ({"clear_after": 0}, "clear_after must be at least 1"),
        ({"clear_after": "soon"}, "clear_after"),
    ],
)
def test_spc_adaptive_keys_are_validated(extra: dict[str, Any], issue: str) -> None:
    rule = {"ref": "s", "kind": "spc", "field": "payload.v", **extra}
    full = {"streams": "plant-a/*", "severity": "warning", "recommendation": "x", **rule}
    with pytest.raises(packs.PackError) as info:
        packs.load_documents({"t.yaml": yaml.safe_dump({"rules": [full]})}, "test")
    assert issue in str(info.value)


def test_spc_clear_after_a_duration() -> None:
    rule = spc("WE1", clear_after="5m")
    # back inside for four minutes, then beyond again: the same excursion
    result = run(engine(rule), series([0, 4, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 4]))
    assert anchors(result) == [2, 14]


# -- findings never exceed excursions ---------------------------------------------


def _stretches(beyond: Sequence[bool], calm: Sequence[bool], clear: int) -> int:
    """Stretches of points beyond, separated by at least `clear` calm points in a row."""
    count, open_, streak = 0, False, 0
    for b, c in zip(beyond, calm, strict=True):
        if b:
            count += not open_
            open_, streak = True, 0
        elif open_ and c:
            streak += 1
            if streak >= clear:
                open_ = False
        elif open_:
            streak = 0
    return count


@settings(max_examples=200, deadline=None)
@given(vals=st.lists(st.integers(0, 9), max_size=80), cuts=st.lists(st.integers(0, 80)))
def test_findings_never_exceed_excursions(vals: list[int], cuts: list[int]) -> None:
    events = series(vals)
    cut = [c for c in cuts if c <= len(events)]
    checks = [
        # threshold above 7, clearing below 4
        (
            RULES_BY_KIND["threshold"] | {"below": None, "for": None},
            [v > 7 for v in vals],
            [v < 4 for v in vals],
            1,
        ),
        # WE1 around 4.5 ± 3 × 1.2, eight calm points to clear
        (
            {**spc("WE1"), "mean": 4.5, "sigma": 1.2},
            [abs(v - 4.5) > 3.6 for v in vals],
            [abs(v - 4.5) <= 3.6 for v in vals],
            8,
        ),
        # a flat run of 3 (epsilon 1) is one episode until the value moves
        (RULES_BY_KIND["flatline"], [True] * len(vals), [False] * len(vals), 1),
    ]
    for rule, beyond, calm, clear in checks:
        eng = engine({k: v for k, v in rule.items() if v is not None})
        found = {f.fingerprint for f in run_split(eng, events, cut)}
        if rule["kind"] == "flatline":
            runs = _flat_runs(vals, 1, 3)
            assert len(found) <= runs
        else:
            assert len(found) <= _stretches(beyond, calm, clear)


def _flat_runs(vals: Sequence[float], eps: float, points: int) -> int:
    count, low, high, n = 0, None, None, 0
    for v in vals:
        if low is None or high is None or max(high, v) - min(low, v) > eps:
            low = high = v
            n = 1
        else:
            low, high, n = min(low, v), max(high, v), n + 1
        count += n == points
    return count


def test_spc_likelihood_keeps_a_noisy_stable_process_quiet_and_sees_a_shift() -> None:
    noisy = _noisy(2000, 0, seed=11)
    we = run(engine(spc(baseline_points=50)), series(noisy))
    assert len({f.fingerprint for f in we.findings}) > 5  # the WE rules chatter on noise
    rule = spc(baseline_points=50, chart="likelihood", max_probability=1e-4)
    assert run(engine(rule), series(noisy)).findings == []
    shifted = noisy[:1000] + [v + 2.0 for v in noisy[1000:1030]] + noisy[1030:]
    result = run(engine(rule), series(shifted))
    assert len({f.fingerprint for f in result.findings}) == 1
    finding = result.findings[-1]
    assert 1000 < finding.anchor_event_id <= 1020  # within 20 points of the shift
    assert finding.evidence[0].data["probability"] < 1e-4
    assert episode(finding)["rules"] == ["LIKELIHOOD+"]


def test_an_open_rate_episode_is_reported_with_the_window_of_its_last_violation() -> None:
    """Found by the property above: an episode still open at the end of a
    pass was reported with the window as it stood then (later points, after a
    run of unreadable ones) in one pass, and with the window at its violation
    when the pass was split, so the stored evidence depended on batching."""
    at = [T0 + timedelta(seconds=s) for s in (0, 30, 60, 120, 180, 300, 300, 300)]
    values: list[Any] = [0, 2, ..., ..., ..., 0, 0, 0]
    events = [
        Event(i + 1, STREAM, "measurement", t, t, {} if v is ... else {"v": v})
        for i, (t, v) in enumerate(zip(at, values, strict=True))
    ]
    eng = engine(RULES_BY_KIND["rate"])
    whole, split = final(run_split(eng, events, [])), final(run_split(eng, events, [2]))
    assert whole == split
    [(_, _, _, _, evidence, _)] = whole.values()
    series = next(data for kind, _, data in evidence if kind == "series")
    assert [p["event_id"] for p in series["points"]] == [1, 2]
