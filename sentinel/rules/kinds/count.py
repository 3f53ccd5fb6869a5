"""`count`: `count` events matching `when` inside a sliding `within`.

One finding per burst: it fires when the window first holds `count` matching
events (anchor = the oldest of them) and re-arms once the window, checked at
each matching event, holds fewer than `count` again. At the crossing the
window holds exactly `count` events, so only the newest `count` are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sentinel.rules.conditions import Predicate
from sentinel.rules.durations import format_duration
from sentinel.rules.kinds._base import KindSpec, PassContext, Reader, State, from_iso, iso
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule


@dataclass(frozen=True)
class Params:
    when: Predicate
    count: int
    within: timedelta


def parse(reader: Reader) -> Params | None:
    when = reader.condition("when")
    count = reader.integer("count", default=None, minimum=1)
    within = reader.duration("within", required=True)
    if not reader.has("count"):
        reader.issue("missing 'count'")
    if when is None or count is None or within is None:
        return None
    return Params(when, count, timedelta(seconds=within))


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    params: Params = rule.params
    needed, within, when = params.count, params.within, params.when
    window: deque[tuple[int, datetime]] = deque(
        ((p[0], from_iso(p[1])) for p in state.get("window", [])), maxlen=needed
    )
    active: bool = state.get("active", False)
    for event in events:
        if not when(event.payload):
            continue
        at = event.occurred_at
        while window and at - window[0][1] > within:
            window.popleft()
        window.append((event.id, at))
        if len(window) < needed:
            active = False
        elif not active:
            active = True
            first_id, first_at = window[0]
            ctx.find(
                rule,
                kind="count",
                anchor=first_id,
                anchor_event_id=first_id,
                first_seen=first_at,
                last_seen=at,
                summary=(
                    f"{needed} matching events within {format_duration(at - first_at)} "
                    f"(limit {needed} in {format_duration(within)})"
                ),
                evidence=[
                    EvidenceItem(
                        "trigger",
                        event.id,
                        {
                            "event_id": event.id,
                            "occurred_at": iso(at),
                            "kind": event.kind,
                            "payload": dict(event.payload),
                        },
                    ),
                    EvidenceItem(
                        "window",
                        first_id,
                        {
                            "start": iso(first_at),
                            "end": iso(at),
                            "within_seconds": within.total_seconds(),
                            "events": [{"event_id": i, "occurred_at": iso(t)} for i, t in window],
                        },
                    ),
                ],
                values={"seen": len(window)},
                payload=event.payload,
            )
    return {"window": [[i, iso(t)] for i, t in window], "active": active}


SPEC = KindSpec(
    name="count",
    keys=frozenset({"when", "count", "within"}),
    required=frozenset({"when", "count", "within"}),
    supplies=frozenset({"seen"}),
    parse=parse,
    run=run,
)
