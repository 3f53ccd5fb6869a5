"""The evidence kinds, defined once: what each holds, which rule kinds write
it, and how a reader (the dashboard, the API to come) shows it.

A rule kind writes `EvidenceItem(kind, event_id, data)` (`rules/model.py`);
the read model (`sentinel/views/evidence.py`) turns the items of a detection
into what is charted and listed by each kind's `shown`, never by its name. A
new evidence kind is one entry here (a test checks that every kind the rule
kinds write is one).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Shown(StrEnum):
    """How a reader shows an evidence item."""

    TRIGGERING = "triggering"  # charted and listed: the readings that fired
    READINGS = "readings"  # charted: the readings leading up to the finding
    WINDOW = "window"  # its numbers listed; its `points`, if a list, charted
    BASELINE = "baseline"  # mean, sigma, n
    RULE = "rule"  # the rule's mapping as it was, key by key
    DATA = "data"  # its data as it is, under its kind's name (and any kind not here)


@dataclass(frozen=True)
class EvidenceKind:
    name: str
    shown: Shown
    holds: str
    written_by: tuple[str, ...]  # rule kinds ("*": every one)


KINDS: dict[str, EvidenceKind] = {
    k.name: k
    for k in (
        EvidenceKind(
            "trigger",
            Shown.TRIGGERING,
            "the event that fired: its id and time, and its value or its payload "
            "(with the rule kind's numbers: limit, rate, SPC test)",
            ("condition", "threshold", "spc", "rate", "flatline", "count", "silence", "run"),
        ),
        EvidenceKind(
            "point",
            Shown.TRIGGERING,
            "a reading that took part: event id, time, value (and z for SPC); "
            "`role` says which (anchor, window start)",
            ("threshold", "spc", "rate"),
        ),
        EvidenceKind(
            "series",
            Shown.READINGS,
            "the readings leading up to the finding: {points: [{event_id, occurred_at, value}]}",
            ("threshold", "rate", "flatline"),
        ),
        EvidenceKind(
            "window",
            Shown.WINDOW,
            "the span the rule looked at: start, end and its own numbers (a slow run: the "
            "recent durations as `points`, their median, MAD and the threshold)",
            ("threshold", "rate", "flatline", "count", "silence", "run"),
        ),
        EvidenceKind(
            "episode",
            Shown.DATA,
            "the episode the finding reports: status, start, last seen, points beyond, "
            "peak, cleared at (a hung run: when it began, was hung from, was seen hung, ended)",
            ("threshold", "spc", "rate", "flatline", "count", "silence", "run"),
        ),
        EvidenceKind(
            "run",
            Shown.DATA,
            "a run's timeline: its key, when it began, its start event, the stages seen "
            "(first and last time, conclusion, events), its end and duration; for an "
            "incomplete run also the stages required, missing and out of order",
            ("run",),
        ),
        EvidenceKind("baseline", Shown.BASELINE, "the SPC baseline: mean, sigma, n", ("spc",)),
        EvidenceKind("rule", Shown.RULE, "the rule's whole mapping as it was", ("*",)),
        EvidenceKind(
            "flood",
            Shown.DATA,
            "a flood's collapsed findings (the engine's, not a rule kind's: rules/flood.py): "
            "status, start, last seen, calm since, threshold, the count per rule, and the "
            "first 50 collapsed findings (rule, kind, severity, summary, event id, times)",
            ("flood",),
        ),
    )
}


def shown(kind: str) -> Shown:
    """How an item of this kind is shown (an unknown kind: its data as it is)."""
    known = KINDS.get(kind)
    return known.shown if known is not None else Shown.DATA
