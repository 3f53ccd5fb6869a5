"""`count`: `count` events matching `when` inside a sliding `within`.

One finding per burst: it opens when the window first holds `count` matching
events (anchor = the oldest of them), every further matching event while the
window still holds `count` updates it (last_seen, events in the burst), and
it clears (re-arms) at the first matching event that finds fewer than
`count` in the window. At the crossing the
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
from sentinel.rules.kinds._base import (
    KindSpec,
    PassContext,
    Reader,
    State,
    from_iso,
    iso,
)
from sentinel.rules.kinds.episode import CLEARED, OPEN, Episode
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
    ep = Episode.load(state.get("episode"))
    for event in events:
        if not when(event.payload):
            continue
        at = event.occurred_at
        while window and at - window[0][1] > within:
            window.popleft()
        window.append((event.id, at))
        if len(window) < needed:
            if ep is not None:
                ep.quiet(event)
                _report(rule, ctx, ep, window, cleared_at=at)
                ep = None
            continue
        if ep is None:
            first_id, first_at = window[0]
            trigger = {
                "event_id": event.id,
                "occurred_at": iso(at),
                "kind": event.kind,
                "payload": dict(event.payload),
                "span_seconds": (at - first_at).total_seconds(),
            }
            ep = Episode(
                "count",
                first_id,
                first_at,
                trigger,
                ctx.render(rule, {"seen": len(window)}, event.payload),
            )
        ep.hit(event, None, len(window))
    if ep is not None and ep.seen:
        _report(rule, ctx, ep, window)
    return {
        "window": [[i, iso(t)] for i, t in window],
        "episode": ep.dump() if ep is not None else None,
    }


def _report(
    rule: Rule,
    ctx: PassContext,
    ep: Episode,
    window: deque[tuple[int, datetime]],
    cleared_at: datetime | None = None,
) -> None:
    params: Params = rule.params
    span = timedelta(seconds=ep.trigger["span_seconds"])
    summary = (
        f"{params.count} matching events within {format_duration(span)} "
        f"(limit {params.count} in {format_duration(params.within)})"
    )
    total = params.count - 1 + ep.points  # the burst's matching events so far
    if total > params.count:
        summary += f"; {total} in the burst"
    ep.report(
        rule,
        ctx,
        status=OPEN if cleared_at is None else CLEARED,
        summary=summary,
        evidence=[
            EvidenceItem(
                "window",
                ep.anchor,
                {
                    "start": iso(ep.first_seen),
                    "end": iso(ep.last_seen),
                    "within_seconds": params.within.total_seconds(),
                    "matching": total,
                    "events": [{"event_id": i, "occurred_at": iso(t)} for i, t in window],
                },
            ),
        ],
        values={},
        cleared_at=cleared_at,
    )


SPEC = KindSpec(
    name="count",
    keys=frozenset({"when", "count", "within"}),
    required=frozenset({"when", "count", "within"}),
    supplies=frozenset({"seen"}),
    parse=parse,
    run=run,
)
