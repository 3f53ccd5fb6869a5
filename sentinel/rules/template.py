"""Recommendation templates: `{stream}`, `{rule}`, `{value}`, `{field}`, the
rule's own keys, kind extras such as `{z}`, and `{payload.a.b}` of the
triggering event. Rendering never raises: anything unavailable prints "?"."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Final

from sentinel.rules.conditions import MISSING, resolve

UNKNOWN: Final = "?"
_FORMATTER = string.Formatter()


def placeholders(template: str) -> list[str]:
    """The names a template uses, in order (ValueError if its braces are malformed)."""
    names: list[str] = []
    for _literal, name, _spec, _conversion in _FORMATTER.parse(template):
        if name is not None:
            if not name:
                raise ValueError("empty placeholder {} (name what to show)")
            names.append(name)
    return names


def render(template: str, values: Mapping[str, Any], payload: Any = MISSING) -> str:
    """Fill `template`; `{payload.x}` reads the triggering event's payload."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        return template  # validated at load; never fail at run time
    out: list[str] = []
    for literal, name, spec, _conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name == "payload" or name.startswith("payload."):
            segments = () if name == "payload" else tuple(name[8:].split("."))
            value = resolve(payload, segments) if payload is not MISSING else MISSING
        else:
            value = values.get(name, MISSING)
        out.append(_show(value, spec or ""))
    return "".join(out)


def _show(value: Any, spec: str) -> str:
    if value is MISSING or value is None:
        return UNKNOWN
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            pass
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v, "") for v in value)
    return str(value)
