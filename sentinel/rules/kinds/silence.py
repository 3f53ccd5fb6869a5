"""`silence`: no event on the stream for longer than `for`.

Two ways to see it, one finding per silence:
  (a) in the data: consecutive events further apart (occurred_at) than `for`;
      the anchor is the event before the gap;
  (b) at pass time, on the database clock (`now`), against the rule's `clock`:
      `occurred` (the default: the device) judges on the newest occurred_at
      the rule has seen, so a backlog whose readings stopped 90 minutes ago is
      silent however recently it was ingested; `received` (the pipeline)
      judges on the newest received_at (of the stream, or with `kinds` of the
      kinds the rule watches), so a stalled connector is seen while old
      history arriving late is not. Judged only on the last part of a pass
      (PassContext.final): an earlier batch is always followed by more events.
      The anchor is the newest event the rule saw.
Both use the same anchor, so a silence seen at pass time and later closed by a
new event has one fingerprint; an event newer than the anchor ends it and
re-arms the rule. A silence in the data has ended when it is seen: its
finding is cleared as written. A silence seen at pass time is an open
episode (kept in the state as `open`) until an event ends it; that event's
pass reports the same finding again, cleared, with the silence's length.
A late event (older than the newest seen; with the occurred clock, not
newer) neither ends nor starts a silence. A stream the
rule has never seen an event on counts from the first pass that looked at it
(anchor 'empty'). `due` is when the silence would begin at pass time, on the
rule's clock: the planner gives the stream one run then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sentinel.rules.durations import format_duration
from sentinel.rules.kinds._base import KindSpec, PassContext, Reader, State, from_iso, iso
from sentinel.rules.kinds.episode import CLEARED
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule

CLOCKS = ("occurred", "received")


@dataclass(frozen=True)
class Params:
    gap: timedelta
    clock: str  # one of CLOCKS


def parse(reader: Reader) -> Params | None:
    gap = reader.duration("for", required=True)
    clock = reader.raw.get("clock", "occurred")
    if clock not in CLOCKS:
        reader.issue(
            f"clock must be occurred (the device) or received (the pipeline), not {clock!r}"
        )
        return None
    return Params(timedelta(seconds=gap), clock) if gap is not None else None


def _opt(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    gap: timedelta = rule.params.gap
    by_device = rule.params.clock == "occurred"
    last_id: int | None = state.get("last_id")
    last_at = _opt(state.get("last_at"))
    last_received = _opt(state.get("last_received"))
    since = _opt(state.get("since"))
    alerted: str | None = state.get("alerted")
    opened: dict[str, Any] | None = state.get("open")
    for event in events:
        at = event.occurred_at
        if last_at is not None:
            if at < last_at or (by_device and at == last_at):
                continue  # a late event does not end or start a silence
            if opened is not None:
                _close(rule, ctx, opened, event)
                opened = None
            elif at - last_at > gap and alerted != str(last_id):
                alerted = str(last_id)
                _fire(rule, ctx, last_id, last_at, at, at - last_at, "between events", event)
        elif opened is not None:  # the first event on a stream silent from the start
            _close(rule, ctx, opened, event)
            opened = None
        last_id, last_at = event.id, at
        if last_received is None or event.received_at > last_received:
            last_received = event.received_at
    if by_device:
        reference = last_at
    else:
        reference = last_received
        if rule.kinds is None and ctx.last_event_at is not None:
            reference = max(reference or ctx.last_event_at, ctx.last_event_at)
    if reference is None:
        since = since or ctx.now
        reference = since
    quiet = ctx.now - reference
    identity = "empty" if last_id is None else str(last_id)
    if ctx.final and quiet > gap and alerted != identity:
        alerted = identity
        opened = _fire(
            rule, ctx, last_id, last_at or reference, ctx.now, quiet, "at pass time", None
        )
    return {
        # When this silence would be seen at pass time, unless already reported.
        "due": iso(reference + gap) if alerted != identity else None,
        "last_id": last_id,
        "last_at": iso(last_at) if last_at else None,
        "last_received": iso(last_received) if last_received else None,
        "since": iso(since) if since else None,
        "alerted": alerted,
        "open": opened,
    }


def _fire(
    rule: Rule,
    ctx: PassContext,
    anchor: int | None,
    start: datetime,
    end: datetime,
    quiet: timedelta,
    how: str,
    after: Event | None,
) -> dict[str, Any] | None:
    """Report a silence; one seen at pass time is still going on: its
    episode, returned to be kept open in the state."""
    data: dict[str, Any] = {
        "start": iso(start),
        "end": iso(end),
        "silent_seconds": quiet.total_seconds(),
        "for_seconds": rule.params.gap.total_seconds(),
        "seen": how,
        "clock": rule.params.clock,
        "last_event_id": anchor,
    }
    evidence = [EvidenceItem("window", anchor, data)]
    if after is not None:
        evidence.append(
            EvidenceItem(
                "trigger",
                after.id,
                {"event_id": after.id, "occurred_at": iso(after.occurred_at), "role": "next"},
            )
        )
    values = {"gap": format_duration(quiet), "last_seen": iso(start)}
    opened: dict[str, Any] | None = None
    if after is None:
        opened = {
            "anchor": anchor,
            "start": iso(start),
            "reported": iso(end),  # the pass time that saw it (see _close)
        }
        evidence.insert(0, _episode(opened, "open", end, None))
    ctx.find(
        rule,
        kind="silence",
        anchor=anchor,
        anchor_event_id=anchor,
        first_seen=start,
        last_seen=end,
        summary=f"no event on {ctx.stream} for {format_duration(quiet)} ({how})",
        evidence=evidence,
        values=values,
        payload=after.payload if after is not None else {},
    )
    return opened


def _episode(
    opened: Mapping[str, Any], status: str, last_seen: datetime, cleared_at: datetime | None
) -> EvidenceItem:
    return EvidenceItem(
        "episode",
        opened["anchor"],
        {
            "status": status,
            "start": opened["start"],
            "last_seen": iso(last_seen),
            "points_beyond": 0,
            "peak": None,
            "rules": [],
            "cleared_at": iso(cleared_at) if cleared_at else None,
        },
    )


def _close(rule: Rule, ctx: PassContext, opened: Mapping[str, Any], event: Event) -> None:
    """An event ended a silence seen at pass time: the same finding, cleared,
    as long as the silence really was (to that event). Its last_seen is never
    before the open report's (the pass time that saw it): a device's clock
    may be behind the database's, and the store keeps the newer report."""
    start = from_iso(opened["start"])
    quiet = event.occurred_at - start
    last_seen = max(event.occurred_at, from_iso(opened["reported"]))
    window = {
        "start": opened["start"],
        "end": iso(event.occurred_at),
        "silent_seconds": quiet.total_seconds(),
        "for_seconds": rule.params.gap.total_seconds(),
        "seen": "at pass time",
        "clock": rule.params.clock,
        "last_event_id": opened["anchor"],
    }
    ctx.find(
        rule,
        kind="silence",
        anchor=opened["anchor"],
        anchor_event_id=opened["anchor"],
        first_seen=start,
        last_seen=last_seen,
        summary=f"no event on {ctx.stream} for {format_duration(quiet)} (cleared)",
        evidence=[
            _episode(opened, CLEARED, last_seen, event.occurred_at),
            EvidenceItem("window", opened["anchor"], window),
            EvidenceItem(
                "trigger",
                event.id,
                {"event_id": event.id, "occurred_at": iso(event.occurred_at), "role": "next"},
            ),
        ],
        # The store keeps the recommendation the finding opened with.
        values={"gap": format_duration(quiet), "last_seen": opened["start"]},
        payload=event.payload,
    )


def due(rule: Rule, state: Mapping[str, Any]) -> datetime | None:
    return _opt(state.get("due"))


SPEC = KindSpec(
    name="silence",
    keys=frozenset({"for", "clock"}),
    required=frozenset({"for"}),
    supplies=frozenset({"gap", "last_seen"}),
    parse=parse,
    run=run,
    due=due,
)
