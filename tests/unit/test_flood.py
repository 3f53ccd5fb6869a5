"""Flood protection in the pure engine: past the threshold of finding openings
in 10 minutes, a stream's further findings are collapsed into one `flood`
finding that counts them all, until the stream calms."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.flood import FLOOD_REF
from sentinel.rules.model import Event, Finding
from tests.unit.test_detectors import STREAM, T0, final, run, run_split

HIT = {
    "ref": "hit",
    "kind": "condition",
    "when": {"field": "payload.v", "operator": "greater_than", "value": 5},
}
BIG = {
    **HIT,
    "ref": "big",
    "severity": "critical",
    "when": {"field": "payload.v", "operator": "greater_than", "value": 100},
}
HOT = {"ref": "hot", "kind": "threshold", "field": "payload.v", "above": 85, "clear_below": 82}


def engine(*rules: dict[str, Any], flood_findings: int = 10) -> Engine:
    full = [
        {"streams": "plant-a/*", "severity": "warning", "recommendation": "Check {stream}.", **r}
        for r in rules
    ]
    pack = packs.load_documents({"t.yaml": yaml.safe_dump({"rules": full})}, "test")
    return Engine(pack, flood_findings=flood_findings)


def at_seconds(seconds: Sequence[float], values: Sequence[float] | None = None) -> list[Event]:
    out = []
    for i, s in enumerate(seconds):
        at = T0 + timedelta(seconds=s)
        v = 9 if values is None else values[i]
        out.append(Event(i + 1, STREAM, "measurement", at, at, {"v": v}))
    return out


def flood_of(findings: list[Finding]) -> dict[str, Any]:
    [data] = [e.data for f in findings if f.kind == "flood" for e in f.evidence]
    return data


def test_a_burst_of_30_in_5_minutes_is_10_findings_and_one_flood_counting_the_other_20() -> None:
    eng = engine(HIT, BIG)
    events = at_seconds([i * 10 for i in range(30)])  # 30 in 5 minutes
    result = run(eng, events)
    written = [f for f in result.findings if f.kind == "condition"]
    [flood] = [f for f in result.findings if f.kind == "flood"]
    assert len(written) == 10 and [f.anchor_event_id for f in written] == list(range(1, 11))
    data = flood_of(result.findings)
    assert data["collapsed"] == 20 and data["by_rule"] == {"hit": 20} and data["not_listed"] == 0
    assert [e["event_id"] for e in data["listed"]] == list(range(11, 31))
    assert data["status"] == "open" and data["threshold"] == 10
    assert flood.rule_ref == FLOOD_REF and flood.severity == "warning"
    assert flood.first_seen == events[10].occurred_at and flood.last_seen == events[-1].occurred_at
    assert flood.recommendation.startswith(f"Review {STREAM}: more than 10 findings in 10m")
    assert "hit" in flood.recommendation and "20 finding(s)" in flood.summary
    assert FLOOD_REF in result.states


def test_calm_again_closes_the_flood_and_new_findings_are_written_normally() -> None:
    eng = engine(HIT)
    burst = [i * 10 for i in range(30)]  # up to 4m50s
    later = [30 * 60 + i * 60 for i in range(3)]  # 30 minutes on: calm
    events = at_seconds(burst + later)
    first = run(eng, events[:30])
    second = run(eng, events[30:], first.states)
    [closed] = [f for f in second.findings if f.kind == "flood"]
    data = flood_of(second.findings)
    assert data["status"] == "closed" and data["collapsed"] == 20
    # Calm once the tenth-newest opening (at 4m50s - 9*10s) left the window.
    assert data["closed_at"] == (T0 + timedelta(seconds=200, minutes=10)).isoformat()
    assert [f.anchor_event_id for f in second.findings if f.kind == "condition"] == [31, 32, 33]
    assert closed.fingerprint == next(f for f in first.findings if f.kind == "flood").fingerprint
    # A second burst later is a second flood, with its own fingerprint.
    again = at_seconds([3600 + i for i in range(15)])
    third = eng.run(
        STREAM,
        [e._replace(id=100 + e.id) for e in again],
        second.states,
        again[-1].occurred_at,
        None,
    )
    [new_flood] = [f for f in third.findings if f.kind == "flood"]
    assert new_flood.fingerprint != closed.fingerprint
    assert Counter(f.kind for f in third.findings) == {"condition": 10, "flood": 1}


def test_an_open_episode_reported_again_is_one_opening_not_many() -> None:
    eng = engine(HOT, flood_findings=2)
    values = [90, 90, 90, 90, 90, 90]  # one episode, reported at every pass
    events = at_seconds([i * 10 for i in range(6)], values)
    states: dict[str, Any] = {}
    for event in events:
        result = run(eng, [event], states)
        states = result.states
        assert [f.kind for f in result.findings] == ["threshold.above"]


def test_below_the_threshold_nothing_changes() -> None:
    eng, plain = engine(HIT), Engine(engine(HIT).pack, flood_findings=1000)
    events = at_seconds([i * 60 for i in range(30)])  # one a minute: 10 per 10m at most
    assert final(run(eng, events).findings) == final(run(plain, events).findings)


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([1, 5, 30, 61, 200, 700]), min_size=1, max_size=60),
    values=st.lists(st.sampled_from([0, 9, 90, 200]), min_size=60, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    threshold=st.integers(1, 6),
)
def test_any_split_into_batches_stores_the_findings_of_one_pass(
    gaps: list[int], values: list[int], cuts: list[int], threshold: int
) -> None:
    eng = engine(HIT, BIG, HOT, flood_findings=threshold)
    seconds = [float(sum(gaps[: i + 1])) for i in range(len(gaps))]
    events = at_seconds(seconds, values[: len(gaps)])
    whole = final(run_split(eng, events, []))
    split = final(run_split(eng, events, [min(c, len(events)) for c in cuts]))
    assert split == whole
