"""Flood protection (ISA-18.2 / EEMUA 191: more than 10 alarms in 10 minutes
is a flood): past `threshold` finding openings of one stream in a sliding
10-minute window, further openings are not written as their own detections
but collapsed into one `flood` finding, updated as more arrive and closed
when the stream calms (fewer than `threshold` openings in the last 10
minutes). Nothing is lost: the flood's evidence counts every collapsed
finding per rule and lists the first MAX_LISTED of them.

An opening is a fingerprint seen for the first time (an open episode
reported again at a later pass is the same finding, not another), counted at
its `first_seen`. Everything is judged on the stream's own event time, never
on a clock, and the openings of a batch in time order, so that any split of
a pass into batches gives the stored findings of one pass. The state is one
JSON mapping kept under the reserved rule ref FLOOD_REF beside the rules'.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sentinel.rules.kinds._base import fingerprint, from_iso, iso
from sentinel.rules.model import Event, EvidenceItem, Finding
from sentinel.types import Severity

FLOOD_REF: Final = "sentinel.flood"  # the flood's rule_ref and its state's key
DEFAULT_FLOOD_FINDINGS: Final = 10  # Settings.flood_findings
WINDOW: Final = timedelta(minutes=10)
MAX_LISTED: Final = 50  # collapsed findings listed in the evidence (all are counted)
MAX_REMEMBERED: Final = 1000  # collapsed fingerprints kept to absorb their re-reports
MAX_CLOSED_KEPT: Final = 3  # closed floods kept: their episodes still open update them
SHORT: Final = 16  # hex digits of a fingerprint kept in the state

RANK: Final = {s.value: i for i, s in enumerate(Severity)}


def collapse(
    stream: str,
    findings: Sequence[Finding],
    events: Sequence[Event],
    saved: Mapping[str, Any] | None,
    threshold: int,
) -> tuple[list[Finding], dict[str, Any] | None]:
    """The findings to write (the floods' among them) and the new state;
    the saved state as it was when there is nothing to count."""
    if not findings and not (saved and saved.get("open")):
        return list(findings), dict(saved) if saved is not None else None
    state = _State(saved, threshold)
    passed: set[int] = set()
    for i in sorted(range(len(findings)), key=lambda i: (findings[i].first_seen, i)):
        finding = findings[i]
        state.close_if_calm(finding.first_seen)
        if state.take(finding):
            passed.add(i)
    if state.open is not None and events:
        state.close_if_calm(max(e.occurred_at for e in events))
    out = [f for i, f in enumerate(findings) if i in passed]  # in the rules' order
    return out + [state.report(stream, start) for start in sorted(state.touched)], state.dump()


class _State:
    def __init__(self, saved: Mapping[str, Any] | None, threshold: int) -> None:
        saved = copy.deepcopy(dict(saved or {}))
        self.threshold = threshold
        self.latest: datetime | None = from_iso(saved["latest"]) if saved.get("latest") else None
        # The newest `threshold` openings (written or collapsed): [time, rule].
        self.recent: list[tuple[datetime, str]] = [
            (from_iso(t), r) for t, r in saved.get("recent", ())
        ]
        # Written openings inside the window: their re-reports are written too.
        self.passed: dict[str, datetime] = {
            fp: from_iso(t) for fp, t in saved.get("passed", {}).items()
        }
        # Collapsed fingerprints -> their flood's start: their later reports
        # (an episode still open) stay in that flood, closed or not.
        self.collapsed: dict[str, str] = dict(saved.get("collapsed", {}))
        # The open flood and the last few closed ones, by start.
        self.floods: dict[str, dict[str, Any]] = dict(saved.get("floods", {}))
        self.open: str | None = saved.get("open")
        self.touched: set[str] = set()

    def take(self, finding: Finding) -> bool:
        """Whether the finding is written as itself (else a flood has it)."""
        short = finding.fingerprint[:SHORT]
        if short in self.passed:
            return True
        start = self.collapsed.get(short)
        if start is not None:
            if start in self.floods:
                self._absorb(start, finding, opening=False)
            return False
        at = finding.first_seen
        if self.latest is not None and at <= self.latest - WINDOW:
            return True  # opened before anything still counted: reported again
        inside = sum(1 for t, _ in self.recent if at - WINDOW < t <= at)
        self.recent = sorted([*self.recent, (at, finding.rule_ref)])[-self.threshold :]
        self.latest = at if self.latest is None else max(self.latest, at)
        horizon = self.latest - WINDOW
        self.passed = {fp: t for fp, t in self.passed.items() if t > horizon}
        if inside < self.threshold:
            self.passed[short] = at
            return True
        if self.open is None:
            self.open = iso(at)
            self.floods[self.open] = {
                "threshold": self.threshold,
                "rules_at_start": sorted({r for _, r in self.recent}),
                "severity": finding.severity,
                "last_seen": iso(finding.last_seen),
                "closed_at": None,
                "collapsed": 0,
                "by_rule": {},
                "listed": [],
            }
        self.collapsed[short] = self.open
        if len(self.collapsed) > MAX_REMEMBERED:
            del self.collapsed[next(iter(self.collapsed))]
        self._absorb(self.open, finding, opening=True)
        return False

    def _absorb(self, start: str, finding: Finding, *, opening: bool) -> None:
        flood = self.floods[start]
        self.touched.add(start)
        if RANK.get(finding.severity, 0) > RANK.get(flood["severity"], 0):
            flood["severity"] = finding.severity
        flood["last_seen"] = iso(max(from_iso(flood["last_seen"]), finding.last_seen))
        entry = {
            "fingerprint": finding.fingerprint,
            "rule": finding.rule_ref,
            "kind": finding.kind,
            "severity": finding.severity,
            "summary": finding.summary,
            "event_id": finding.anchor_event_id,
            "first_seen": iso(finding.first_seen),
            "last_seen": iso(finding.last_seen),
        }
        listed: list[dict[str, Any]] = flood["listed"]
        if opening:
            flood["collapsed"] += 1
            flood["by_rule"][finding.rule_ref] = flood["by_rule"].get(finding.rule_ref, 0) + 1
            if len(listed) < MAX_LISTED:
                listed.append(entry)
        else:  # an episode reported again: its entry as it stands now
            for n, old in enumerate(listed):
                if old["fingerprint"] == finding.fingerprint:
                    listed[n] = entry

    def close_if_calm(self, at: datetime) -> None:
        """Close the open flood if the window holds fewer than `threshold`
        openings at `at`: it calmed when the oldest of the newest `threshold`
        left it."""
        if self.open is None:
            return
        start = from_iso(self.open)
        full = len(self.recent) >= self.threshold
        calm = max(self.recent[-self.threshold][0] + WINDOW, start) if full else start
        if at < calm:
            return
        self.floods[self.open]["closed_at"] = iso(calm)
        self.touched.add(self.open)
        self.open = None

    def report(self, stream: str, start: str) -> Finding:
        flood = self.floods[start]
        rules = ", ".join(flood["rules_at_start"])
        by_rule = dict(sorted(flood["by_rule"].items()))
        closed = flood["closed_at"]
        summary = (
            f"Flood on {stream}: {flood['collapsed']} finding(s) from "
            f"{len(by_rule)} rule(s) collapsed since {start}"
            + (f", calm since {closed}" if closed else "")
        )
        data = {
            "status": "closed" if closed else "open",
            "started": start,
            "last_seen": flood["last_seen"],
            "closed_at": closed,
            "window": "10m",
            "threshold": flood["threshold"],
            "collapsed": flood["collapsed"],
            "by_rule": by_rule,
            "listed": list(flood["listed"]),
            "not_listed": flood["collapsed"] - len(flood["listed"]),
        }
        first = flood["listed"][0]["event_id"] if flood["listed"] else None
        return Finding(
            rule_ref=FLOOD_REF,
            stream=stream,
            kind="flood",
            severity=flood["severity"],
            summary=summary,
            fingerprint=fingerprint(FLOOD_REF, stream, "flood", start),
            anchor_event_id=first,
            first_seen=from_iso(start),
            last_seen=from_iso(flood["last_seen"]),
            evidence=(EvidenceItem("flood", None, data),),
            recommendation=(
                f"Review {stream}: more than {flood['threshold']} findings in 10m from "
                f"rules {rules}; further findings are collapsed into this one"
            ),
        )

    def dump(self) -> dict[str, Any]:
        closed = sorted(s for s, f in self.floods.items() if f["closed_at"] is not None)
        for start in closed[:-MAX_CLOSED_KEPT]:
            del self.floods[start]
        return {
            "latest": iso(self.latest) if self.latest is not None else None,
            "recent": [[iso(t), r] for t, r in self.recent],
            "passed": {fp: iso(t) for fp, t in sorted(self.passed.items())},
            "collapsed": self.collapsed,
            "floods": self.floods,
            "open": self.open,
        }
