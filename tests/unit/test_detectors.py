"""The detectors, one kind at a time, and the engine's guarantees: one finding
per episode, incremental passes equal one pass, bad input is a Problem."""

from __future__ import annotations

import hashlib
import itertools
import json
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
    assert result.findings[0].summary == "payload.v above 85: 86"


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
    assert finding.last_seen - finding.first_seen == timedelta(minutes=3)
    assert "window" in [e.kind for e in finding.evidence]


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
    result = run(engine(spc("WE1")), series([0.5, -0.5, 3.5, 3.6, -3.7, 0, 3.2]))
    # 3.5, 3.6 one excursion above; -3.7 an excursion below; 3.2 a new one above
    assert [(f.kind, f.anchor_event_id) for f in result.findings] == [
        ("spc.WE1", 3),
        ("spc.WE1", 5),
        ("spc.WE1", 7),
    ]
    finding = result.findings[0]
    assert [e.kind for e in finding.evidence] == ["trigger", "point", "baseline", "rule"]
    assert finding.evidence[0].data["z"] == 3.5


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
    assert set(kinds_of(result)) == {"spc.WE1", "spc.WE2", "spc.WE3", "spc.WE4"}


WE_PATTERNS = {"WE1": (1, 1, 3.0), "WE2": (3, 2, 2.0), "WE3": (5, 4, 1.0), "WE4": (8, 8, 0.0)}


def we_reference(zs: Sequence[float]) -> list[tuple[str, int]]:
    """Western Electric episodes the slow way: every test, side and point; a
    finding where a pattern starts to hold."""
    found, held = [], set()
    for i in range(len(zs)):
        for test, (size, needed, limit) in WE_PATTERNS.items():
            window = zs[max(0, i + 1 - size) : i + 1]
            for side, count in (
                ("+", sum(z > limit for z in window)),
                ("-", sum(z < -limit for z in window)),
            ):
                holds = len(window) >= needed and count >= needed
                if holds and (test, side) not in held:
                    found.append((f"spc.{test}", i + 1))
                (held.add if holds else held.discard)((test, side))
    return sorted(found)


@settings(max_examples=200, deadline=None)
@given(
    zs=st.lists(st.sampled_from([-3.5, -2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 3.5]), max_size=40),
    cut=st.integers(0, 40),
)
def test_spc_findings_equal_checking_every_rule_at_every_point(zs: list[float], cut: int) -> None:
    events = series(zs)
    found = run_split(engine(spc()), events, [min(cut, len(events))])
    assert sorted((f.kind, f.anchor_event_id) for f in found) == we_reference(zs)


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
    assert kinds_of(later)[0] == "spc.WE1"
    evidence = {e.kind: e.data for e in later.findings[0].evidence}
    assert evidence["baseline"]["first_event_id"] == 1
    assert evidence["baseline"]["last_event_id"] == 10


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
    assert result.findings[0].evidence[0].data["rate_per_minute"] == 2.5
    assert result.findings[1].summary == "payload.v falling at 4/min (limit 3/min)"


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
    assert finding.anchor_event_id == 1 and finding.evidence[1].data["points"] == 11


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
    # the event that ends the silence has the same anchor: same fingerprint, not re-emitted
    closing = at_times([0, 2, 30])[2:]
    ended = eng.run(STREAM, closing, again.states, closing[0].occurred_at, closing[0].received_at)
    assert ended.findings == []
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
    assert [f.rule_ref for f in result.findings] == ["also-hot"]


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
    assert sorted(f.fingerprint for f in split) == sorted(f.fingerprint for f in whole)
    assert [f.summary for f in split] == [f.summary for f in whole]


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
    assert [f.fingerprint for f in one_by_one] == [f.fingerprint for f in whole]
