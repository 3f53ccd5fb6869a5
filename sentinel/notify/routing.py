"""Which routes and channels a finding goes to, its group, and whether a
route is muted now. Pure: the outbox and the notifier call it."""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sentinel.notify_config import WEEKDAYS, Notifications, Route


@dataclass(frozen=True)
class Subject:
    """What routing looks at in a finding."""

    severity: str
    stream: str
    rule: str


def matches(route: Route, subject: Subject) -> bool:
    if route.severity and subject.severity not in route.severity:
        return False
    if not any(fnmatch.fnmatchcase(subject.stream, g) for g in route.streams):
        return False
    return any(fnmatch.fnmatchcase(subject.rule, g) for g in route.rules)


def routes_for(config: Notifications, subject: Subject) -> list[Route]:
    """The matching routes in order: the first match ends the walk unless it
    says continue."""
    chosen = []
    for route in config.routes:
        if matches(route, subject):
            chosen.append(route)
            if not route.continue_:
                break
    return chosen


def targets(config: Notifications, subject: Subject) -> list[tuple[Route, str]]:
    """(route, channel) pairs, each channel once per route."""
    return [(route, channel) for route in routes_for(config, subject) for channel in route.channels]


def group_key(route: Route, channel: str, subject: Subject, own: str) -> str:
    """Notifications with equal keys that are due together go out as one
    message; without `group_by` each is its own group (`own`: its key)."""
    if not route.group_by:
        return own
    parts = [route.name, channel] + [
        f"{field}={subject.stream if field == 'stream' else subject.rule}"
        for field in route.group_by
    ]
    return "group:" + "|".join(parts)


def idempotency_key(fingerprint: str, route: str, channel: str, kind: str, n: int = 0) -> str:
    """Stable across retries, racing passes and workers: the finding, where
    it goes, what it says (and, for a repeat, which one). Hashed to a fixed
    length, so it fits any receiver's header."""
    raw = "\x1f".join([fingerprint, route, channel, kind, str(n)])
    return "sn-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def muted_by(config: Notifications, route: Route, at: datetime) -> str | None:
    """The name of a mute window of the route that covers `at`, if any."""
    for name in route.mute:
        window = config.mute_windows[name]
        local = at.astimezone(ZoneInfo(window.timezone))
        now = local.time().replace(tzinfo=None)
        day = WEEKDAYS[local.weekday()]
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        if window.start <= window.end:
            if day in window.weekdays and window.start <= now < window.end:
                return name
        # Across midnight: the evening belongs to today, the morning to the day before.
        elif (day in window.weekdays and now >= window.start) or (
            yesterday in window.weekdays and now < window.end
        ):
            return name
    return None
