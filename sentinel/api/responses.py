"""JSON out: orjson for speed, reading dataclasses (the read model's rows)
and times as the CLI's `--json` writes them (ISO 8601), with `json` for the
rare value orjson refuses (an integer beyond 64 bits in some evidence). One
error shape everywhere: `{"error": "one line"}`."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from fastapi import HTTPException
from fastapi.responses import JSONResponse, Response


def dumps(content: Any) -> bytes:
    try:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(_plain(content), default=_default).encode()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class Json(JSONResponse):
    """The response class of every route."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Json({"error": message}, status_code=status, headers=headers)


class ApiError(HTTPException):
    """An answer other than 2xx, with its one-line reason."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)


# ---- pages ------------------------------------------------------------------
#
# A list is `{"items": [...], "next": CURSOR | null}`; pass `cursor=CURSOR`
# (and the same filters) for the next page. The cursor is opaque to clients:
# the keyset of the last row (its place in the list's order) and the list it
# belongs to, base64url-encoded JSON. A keyset, never an offset, so rows
# inserted while a client pages do not shift the pages.


def page(items: Sequence[Any], limit: int, list_name: str, key: Any) -> Json:
    """The first `limit` of `items` (fetched one more, to know whether there
    is a next page), and the cursor after the last one (`key(row)`)."""
    shown = list(items[:limit])
    cursor = encode_cursor(list_name, key(shown[-1])) if len(items) > limit and shown else None
    return Json({"items": shown, "next": cursor})


def encode_cursor(list_name: str, key: Sequence[Any]) -> str:
    raw = orjson.dumps([list_name, *key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, list_name: str, types: Sequence[type]) -> list[Any] | None:
    """The keyset in a cursor of this list, or a 400 naming what is wrong."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, *key = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ApiError(400, "invalid cursor: pass the `next` of the previous page") from None
    if name != list_name or len(key) != len(types):
        raise ApiError(400, f"invalid cursor: not a cursor of {list_name}")
    out = []
    for value, kind in zip(key, types, strict=True):
        if kind is datetime and isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise ApiError(
                    400, "invalid cursor: pass the `next` of the previous page"
                ) from None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ApiError(400, "invalid cursor: pass the `next` of the previous page")
        out.append(value)
    return out
