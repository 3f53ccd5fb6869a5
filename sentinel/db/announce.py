"""Stream announcements: which streams a transaction gave new events, as
NOTIFY payloads on `Channel.STREAM`, so that workers plan those streams at
once instead of at the next tick.

A payload is a JSON array of stream keys, kept under Postgres's 8000-byte
limit (a transaction touching many streams sends several). Postgres delivers
them at commit and folds identical ones of one transaction into one, so a
transaction announces each stream once however many batches it wrote. An
announcement is only a hint: a lost one costs latency, never an event.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

# NOTIFY refuses a payload of 8000 bytes or more.
MAX_PAYLOAD_BYTES = 7999


def payloads(keys: Iterable[str], limit: int = MAX_PAYLOAD_BYTES) -> list[str]:
    """The keys as few JSON arrays as fit under `limit` bytes each. A key too
    long for any payload is left out: the planner's sweep finds its events."""
    out: list[str] = []
    parts: list[bytes] = []
    size = 2  # the brackets
    for key in keys:
        part = orjson.dumps(key)
        if len(part) + 2 > limit:
            continue
        if parts and size + 1 + len(part) > limit:
            out.append(_array(parts))
            parts, size = [], 2
        size += len(part) + (1 if parts else 0)
        parts.append(part)
    if parts:
        out.append(_array(parts))
    return out


def keys(payload: str) -> list[str] | None:
    """The stream keys a payload announces; None when it names none that can
    be read (an empty payload, as a connector may send by hand, or one not in
    this shape): then every stream is worth a look."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        return None
    return value


def _array(parts: list[bytes]) -> str:
    return (b"[" + b",".join(parts) + b"]").decode()
