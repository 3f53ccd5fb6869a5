"""The API's bearer tokens: create (shown once), revoke, authenticate.

A token is `snt_` and 32 random bytes (`secrets.token_urlsafe`); the table
keeps only its sha256, so a leaked database dump holds no usable token.
Listing them is a read a person makes: `sentinel.views.Views.tokens()`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.errors import InputError

SQL = queries.load(Path(__file__).with_name("tokens.sql"))

PREFIX = "snt_"


class Scope(StrEnum):
    READ = "read"  # every GET under /api
    WRITE = "write"  # acknowledge, dismiss, recheck, retry
    INGEST = "ingest"  # the generic and Jenkins webhooks


SCOPES = tuple(s.value for s in Scope)


@dataclass(frozen=True)
class Principal:
    """Who a request's token says it is: the name is the actor of its writes."""

    name: str
    scopes: frozenset[str]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """`read,write` → ("read", "write"); an unknown or missing scope refused."""
    words = text.split(",") if isinstance(text, str) else list(text)
    found = [w.strip().lower() for w in words if w.strip()]
    unknown = sorted(set(found) - set(SCOPES))
    if unknown:
        raise InputError(f"unknown scope(s) {', '.join(unknown)} (use {', '.join(SCOPES)})")
    if not found:
        raise InputError(f"give at least one scope ({', '.join(SCOPES)})")
    return tuple(s for s in SCOPES if s in found)


def create(conn: psycopg.Connection[Any], name: str, scopes: Iterable[str]) -> str:
    """Store a new token for `name` and return it: the only time it is seen."""
    name = name.strip()
    if not name:
        raise InputError("a token needs a name")
    chosen = parse_scopes(scopes)
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with conn.transaction():
            conn.execute(
                SQL["create"], {"name": name, "hash": digest(token), "scopes": Jsonb(list(chosen))}
            )
    except psycopg.errors.UniqueViolation:
        raise InputError(f"a live token named {name} exists; revoke it first") from None
    return token


def revoke(conn: psycopg.Connection[Any], name: str) -> None:
    if conn.execute(SQL["revoke"], {"name": name}).fetchone() is None:
        raise InputError(f"no live token named {name}")


def authenticate(conn: psycopg.Connection[Any], token: str) -> Principal | None:
    """The live token's principal, or None (unknown, revoked, malformed)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = conn.execute(SQL["authenticate"], {"hash": digest(token)}).fetchone()
    if row is None:
        return None
    name, scopes = row
    return Principal(name=name, scopes=frozenset(s for s in scopes if isinstance(s, str)))
