"""`condition`: every event matching `when` is its own episode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sentinel.rules.conditions import Predicate
from sentinel.rules.kinds._base import KindSpec, PassContext, Reader, State, iso
from sentinel.rules.model import Event, EvidenceItem
from sentinel.rules.rule import Rule


@dataclass(frozen=True)
class Params:
    when: Predicate


def parse(reader: Reader) -> Params | None:
    when = reader.condition("when")
    return Params(when) if when is not None else None


def run(rule: Rule, ctx: PassContext, events: Sequence[Event], state: Mapping[str, Any]) -> State:
    when = rule.params.when
    for event in events:
        if not when(event.payload):
            continue
        ctx.find(
            rule,
            kind="condition",
            anchor=event.id,
            anchor_event_id=event.id,
            first_seen=event.occurred_at,
            last_seen=event.occurred_at,
            summary=f"{event.kind} event matched {rule.ref}",
            evidence=[
                EvidenceItem(
                    "trigger",
                    event.id,
                    {
                        "event_id": event.id,
                        "kind": event.kind,
                        "occurred_at": iso(event.occurred_at),
                        "payload": dict(event.payload),
                    },
                )
            ],
            values={},
            payload=event.payload,
        )
    return {}


SPEC = KindSpec(
    name="condition",
    keys=frozenset({"when"}),
    required=frozenset({"when"}),
    supplies=frozenset(),
    parse=parse,
    run=run,
)
