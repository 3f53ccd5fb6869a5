"""A detection's evidence as a reader shows it: the points charted (the
triggering ones marked), the baseline, the window and the rule as it was.

Each item is read by how its kind is shown (`sentinel.rules.evidence`), not
by its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel.rules.evidence import Shown, shown
from sentinel.views.rows import Evidence, Point


def interpret(evidence: tuple[Evidence, ...]) -> dict[str, Any]:
    """The chartable parts of the evidence, as `Detail`'s fields: `points`,
    `baseline`, `window`, `rule_as_was`."""
    points: dict[tuple[Any, Any], Point] = {}
    baseline: Mapping[str, Any] | None = None
    window: Mapping[str, Any] | None = None
    rule: Mapping[str, Any] | None = None

    def add(raw: Any, event_id: int | None, triggering: bool) -> None:
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, dict):
                continue
            value = item.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            eid = item.get("event_id", event_id)
            when = item.get("occurred_at")
            key = (eid, when) if eid is not None or when is not None else (len(points), None)
            old = points.get(key)
            z = item.get("z")
            points[key] = Point(
                occurred_at=str(when) if when is not None else None,
                value=float(value),
                z=float(z) if isinstance(z, int | float) else None,
                event_id=eid if isinstance(eid, int) else None,
                triggering=triggering or (old.triggering if old else False),
            )

    for item in evidence:
        data, how = item.data, shown(item.kind)
        if how is Shown.BASELINE and isinstance(data, dict):
            baseline = data
        elif how is Shown.RULE and isinstance(data, dict):
            rule = data
        elif how is Shown.WINDOW:
            if isinstance(data, dict):
                window = data
                add(data.get("points", []), None, False)
            else:
                add(data, None, False)
        elif how is Shown.READINGS and isinstance(data, dict):
            add(data.get("points", []), None, False)
        elif how is Shown.TRIGGERING:
            add(_readings(data), item.event_id, True)
    ordered = sorted(points.values(), key=lambda p: (p.occurred_at or "", p.event_id or 0))
    return {"points": tuple(ordered), "baseline": baseline, "window": window, "rule_as_was": rule}


def charted(item: Evidence) -> bool:
    """Whether a triggering item holds a value the chart draws (a condition's
    or a count's trigger event does not: its payload is the picture)."""
    raw = _readings(item.data)
    return any(
        isinstance(i, dict)
        and isinstance(i.get("value"), int | float)
        and not isinstance(i.get("value"), bool)
        for i in (raw if isinstance(raw, list) else [raw])
    )


def _readings(data: Any) -> Any:
    return data.get("points", data) if isinstance(data, dict) else data
