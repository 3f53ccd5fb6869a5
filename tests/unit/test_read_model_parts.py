"""The read model's pure parts: the evidence kinds are every kind the rule
kinds write; its vocabulary is the schema's; the dashboard's refresh
schedule (on a fake timer and clock: nothing sleeps)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from sentinel.rules import evidence
from sentinel.tui.schedule import MIN_GAP, Schedule
from sentinel.views import statements
from sentinel.views.evidence import interpret
from sentinel.views.rows import Evidence

KINDS_DIR = Path(evidence.__file__).with_name("kinds")


def test_every_evidence_kind_a_rule_kind_writes_is_defined_once() -> None:
    written = set()
    for path in KINDS_DIR.glob("*.py"):
        written |= set(re.findall(r'EvidenceItem\(\s*"(\w+)"', path.read_text()))
    assert written and written <= set(evidence.KINDS), written - set(evidence.KINDS)
    assert evidence.shown("something new") is evidence.Shown.DATA


def test_evidence_is_charted_by_how_its_kind_is_shown() -> None:
    items = (
        Evidence(1, "series", None, {"points": [{"event_id": 1, "value": 1.0}]}),
        Evidence(2, "trigger", 2, {"value": 9.0, "occurred_at": "t2"}),
        Evidence(3, "baseline", None, {"mean": 1.0}),
        Evidence(4, "rule", None, {"ref": "r"}),
        Evidence(5, "mystery", None, {"value": 5.0}),
    )
    found = interpret(items)
    assert [(p.value, p.triggering) for p in found["points"]] == [(1.0, False), (9.0, True)]
    assert found["baseline"] == {"mean": 1.0} and found["rule_as_was"] == {"ref": "r"}


def test_the_vocabulary_is_the_schemas() -> None:
    from sentinel.db import schema

    assert statements.WORKER_STATUSES == schema.WORKER_STATUSES
    assert statements.WORKER_ROLES == schema.WORKER_ROLES
    assert statements.RUN_STATUSES == schema.RUN_STATUSES
    assert statements.RECOMMENDATION_STATUSES == schema.RECOMMENDATION_STATUSES
    assert statements.SEVERITIES == schema.SEVERITIES
    assert set(statements.SHOWN_RUN_STATUSES) == {*schema.RUN_STATUSES, "retrying"}


class FakeTimers:
    def __init__(self) -> None:
        self.now = 100.0
        self.armed: list[tuple[float, Callable[[], None], FakeTimer]] = []

    def set_timer(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer()
        self.armed.append((delay, callback, timer))
        return timer

    def live(self) -> list[float]:
        return [delay for delay, _, timer in self.armed if not timer.stopped]


class FakeTimer:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def _schedule() -> tuple[Schedule, FakeTimers, list[int]]:
    timers, starts = FakeTimers(), []
    schedule = Schedule(
        lambda: starts.append(1), timers.set_timer, interval=2.0, clock=lambda: timers.now
    )
    return schedule, timers, starts


def test_refreshes_never_overlap_and_the_next_is_armed_when_one_ends() -> None:
    schedule, timers, starts = _schedule()
    schedule.request()
    schedule.request()  # in flight: once more right after, not twice at once
    assert len(starts) == 1 and timers.live() == []
    schedule.done()
    assert len(starts) == 2 and timers.live() == []
    schedule.done()
    assert timers.live() == [2.0]
    schedule.request()  # now: the armed one is dropped
    assert len(starts) == 3 and timers.live() == []
    schedule.done(failed=True)
    assert timers.live() == [2.0]


def test_notifies_wait_out_the_gap_and_pause_stops_all_but_retries() -> None:
    schedule, timers, starts = _schedule()
    schedule.request()
    schedule.done()
    timers.now += MIN_GAP / 3
    schedule.notified()
    assert len(starts) == 1 and timers.live() == [pytest.approx(MIN_GAP * 2 / 3)]
    timers.now += MIN_GAP
    schedule.notified()
    assert len(starts) == 2
    assert schedule.toggle_pause() is True
    schedule.done()
    schedule.notified()
    assert len(starts) == 2 and timers.live() == []
    schedule.request()
    schedule.done(failed=True)  # a failed refresh is retried even when paused
    assert timers.live() == [2.0]
    assert schedule.step(+1) == 5.0 and schedule.step(-1) == 2.0
