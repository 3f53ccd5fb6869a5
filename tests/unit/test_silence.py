"""`silence` at pass time sees the device (`clock: occurred`, the default) or
the pipeline (`clock: received`); one finding per silence, late events neither
start nor end one, and `due` follows the rule's clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.kinds import KINDS
from sentinel.rules.model import Event, Finding, StreamPass

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
STREAM = "plant-a/line-1/press-1"


def engine(**keys: Any) -> Engine:
    rule = {
        "ref": "quiet",
        "streams": "plant-a/*",
        "kind": "silence",
        "for": "10m",
        "severity": "warning",
        "recommendation": "Check {stream}: nothing for {gap}.",
        **keys,
    }
    return Engine(packs.load_documents({"t.yaml": yaml.safe_dump({"rules": [rule]})}, "t"))


def backlog(stopped: timedelta, *, received: datetime = NOW, n: int = 60) -> list[Event]:
    """A reading a minute, the last `stopped` before NOW, all ingested at `received`."""
    last = NOW - stopped
    return [
        Event(i + 1, STREAM, "measurement", last - timedelta(minutes=n - 1 - i), received, {})
        for i in range(n)
    ]


def passes(eng: Engine, batches: list[list[Event]], now: datetime = NOW) -> list[StreamPass]:
    """One pass in these batches (the last one final), states as stored."""
    states: dict[str, Any] = {}
    budget = eng.budget()
    out = []
    for i, batch in enumerate(batches):
        last_received = max((e.received_at for e in batch), default=None)
        result = eng.run(
            STREAM, batch, states, now, last_received, final=i == len(batches) - 1, budget=budget
        )
        states = json.loads(json.dumps(result.states))
        out.append(result)
    return out


@pytest.mark.parametrize("batch", [60, 7, 1])
def test_a_device_stopped_90_minutes_ago_is_one_silence_when_its_backlog_arrives_now(
    batch: int,
) -> None:
    events = backlog(timedelta(minutes=90))
    results = passes(engine(), [events[i : i + batch] for i in range(0, len(events), batch)])
    findings = [f for r in results for f in r.findings]
    [silence] = findings
    assert silence.anchor_event_id == 60
    assert silence.first_seen == NOW - timedelta(minutes=90)
    assert silence.last_seen == NOW
    [window] = [e.data for e in silence.evidence if e.kind == "window"]
    assert (window["seen"], window["clock"]) == ("at pass time", "occurred")
    assert window["silent_seconds"] == 90 * 60


def test_the_received_clock_sees_the_pipeline_not_the_device() -> None:
    eng = engine(clock="received")
    [fresh] = passes(eng, [backlog(timedelta(minutes=90))])
    assert fresh.findings == []  # the connector delivered just now
    assert fresh.next_due == NOW + timedelta(minutes=10)
    [stalled] = passes(eng, [backlog(timedelta(minutes=90), received=NOW - timedelta(minutes=11))])
    assert [f.anchor_event_id for f in stalled.findings] == [60]


def test_due_follows_the_rule_clock() -> None:
    events = backlog(timedelta(minutes=3), received=NOW - timedelta(minutes=1))
    [device] = passes(engine(), [events])
    assert device.next_due == NOW - timedelta(minutes=3) + timedelta(minutes=10)
    [pipeline] = passes(engine(clock="received"), [events])
    assert pipeline.next_due == NOW - timedelta(minutes=1) + timedelta(minutes=10)


def episode(finding: Finding) -> dict[str, Any]:
    (item,) = [e for e in finding.evidence if e.kind == "episode"]
    return item.data


def test_one_finding_per_silence_and_it_ends_when_events_resume() -> None:
    eng = engine()
    first = eng.run(STREAM, backlog(timedelta(minutes=30)), {}, NOW, NOW)
    assert len(first.findings) == 1
    state = json.loads(json.dumps(first.states))
    again = eng.run(STREAM, [], state, NOW + timedelta(hours=1), NOW)
    assert again.findings == [] and again.next_due is None
    (opened,) = first.findings
    assert episode(opened)["status"] == "open"  # still silent: an active finding
    # The device is back: the same silence (same fingerprint) is reported
    # cleared, as long as it really was; not a new finding.
    back = Event(61, STREAM, "measurement", NOW + timedelta(minutes=61), NOW, {})
    resumed = eng.run(STREAM, [back], state, NOW + timedelta(minutes=62), NOW)
    (closed,) = resumed.findings
    assert closed.fingerprint == opened.fingerprint
    assert episode(closed)["status"] == "cleared" and closed.last_seen == back.occurred_at
    assert closed.first_seen == opened.first_seen == NOW - timedelta(minutes=30)
    assert "for 1h31m" in closed.summary and closed.summary.endswith("(cleared)")
    assert resumed.next_due == NOW + timedelta(minutes=71)  # re-armed on the new event
    later = Event(62, STREAM, "measurement", NOW + timedelta(minutes=62), NOW, {})
    calm = eng.run(STREAM, [later], json.loads(json.dumps(resumed.states)), NOW, NOW)
    assert calm.findings == []  # closed once


def test_a_silence_in_the_data_is_over_when_seen() -> None:
    gap = [
        Event(1, STREAM, "measurement", NOW - timedelta(minutes=50), NOW, {}),
        Event(2, STREAM, "measurement", NOW - timedelta(minutes=5), NOW, {}),
    ]
    (finding,) = engine().run(STREAM, gap, {}, NOW, NOW).findings
    assert not [e for e in finding.evidence if e.kind == "episode"]  # momentary: cleared


def test_a_late_event_neither_ends_nor_starts_a_silence() -> None:
    eng = engine()
    first = eng.run(STREAM, backlog(timedelta(minutes=30)), {}, NOW, NOW)
    state = json.loads(json.dumps(first.states))
    late = [
        Event(70, STREAM, "measurement", NOW - timedelta(minutes=45), NOW, {}),
        Event(
            71, STREAM, "measurement", NOW - timedelta(minutes=30), NOW, {}
        ),  # as old as the newest
    ]
    after = eng.run(STREAM, late, state, NOW + timedelta(minutes=5), NOW)
    assert after.findings == []
    assert after.states["quiet"] == state["quiet"]


def test_only_the_last_batch_of_a_pass_judges_now() -> None:
    events = backlog(timedelta(minutes=1), n=60)
    # The first batch ends 30 minutes before the stream's newest event.
    results = passes(engine(), [events[:30], events[30:]])
    assert [f for r in results for f in r.findings] == []


def test_a_bad_clock_is_a_pack_error() -> None:
    with pytest.raises(packs.PackError, match="clock must be occurred"):
        engine(clock="wall")
    assert "clock" in KINDS["silence"].keys
