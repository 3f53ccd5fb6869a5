"""The `notifications` setting: channels, routes, mute windows, and how
deliveries are retried (sentinel/notify/ acts on it). Read from the config file (SENTINEL_CONFIG, a
`[notifications]` table) or SENTINEL_NOTIFICATIONS (JSON). Secrets are never
written here: a channel names the environment variable or file holding each
one (`url_env` / `url_file`, `secret_env`, `password_file`, …), read at each
delivery so a rotated secret is picked up, and never logged."""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.types import Severity

ChannelType = Literal["slack", "webhook", "email", "alertmanager"]
GroupBy = Literal["stream", "rule"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class SecretMissing(Exception):
    """A channel's secret could not be read (its message names where, never the value)."""


# The rule packs' duration syntax (sentinel/rules/durations.py: 90s, 5m, 2h,
# 1d, 1h30m, or seconds), read here too: the settings sit below the rule engine.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if not _DURATION.fullmatch(text):
            raise ValueError(f"bad duration {value!r}: expected e.g. 90s, 5m, 2h, 1d, 1h30m")
        return sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smhd])", text))
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ChannelConfig(_Model):
    type: ChannelType
    # slack, webhook, alertmanager: where to POST (a Slack incoming-webhook URL
    # is itself a secret: give it by url_env or url_file).
    url: str | None = None
    url_env: str | None = None
    url_file: Path | None = None
    # webhook: the shared secret of X-Sentinel-Signature.
    secret_env: str | None = None
    secret_file: Path | None = None
    # email
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    sender: str | None = Field(None, alias="from")
    to: tuple[str, ...] = ()
    timeout: float = Field(10.0, gt=0, le=120)
    # alertmanager: endsAt is this far ahead (three refreshes) while active.
    refresh: float = Field(60.0, gt=0)

    _seconds = field_validator("timeout", "refresh", mode="before")(_seconds)

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        urls = [x for x in (self.url, self.url_env, self.url_file) if x]
        if self.type in ("slack", "webhook", "alertmanager") and len(urls) != 1:
            raise ValueError(f"a {self.type} channel needs exactly one of url, url_env, url_file")
        if self.type == "webhook" and not (self.secret_env or self.secret_file):
            raise ValueError("a webhook channel needs secret_env or secret_file (the HMAC key)")
        if self.type == "email":
            if not self.host or not self.sender or not self.to:
                raise ValueError("an email channel needs host, from and to")
            if self.username and not (self.password_env or self.password_file):
                raise ValueError("an email channel with a username needs password_env or _file")
        return self

    def smtp_port(self) -> int:
        if self.port:
            return self.port
        return {"tls": 465, "starttls": 587, "none": 25}[self.security]

    def resolved_url(self) -> str:
        return self.url or _secret(self.url_env, self.url_file, "url")

    def secret(self) -> str:
        return _secret(self.secret_env, self.secret_file, "secret")

    def password(self) -> str | None:
        if not (self.password_env or self.password_file):
            return None
        return _secret(self.password_env, self.password_file, "password")

    def secrets(self) -> list[str]:
        """Every secret value it holds now (to scrub them from error text)."""
        found = []
        for env, path in (
            (self.url_env, self.url_file),
            (self.secret_env, self.secret_file),
            (self.password_env, self.password_file),
        ):
            if env or path:
                try:
                    found.append(_secret(env, path, "secret"))
                except SecretMissing:
                    pass
        return [s for s in found if s]


def _secret(env: str | None, path: Path | None, what: str) -> str:
    if env:
        value = os.environ.get(env)
        if not value:
            raise SecretMissing(f"{what}: environment variable {env} is not set")
        return value.strip()
    if path:
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise SecretMissing(f"{what}: cannot read {path}: {exc.strerror}") from None
    raise SecretMissing(f"{what}: not configured")


class MuteWindow(_Model):
    """A recurring time of day (and days of the week) when a route is quiet:
    `start` to `end` in `timezone`; an end before the start crosses midnight."""

    start: time
    end: time
    weekdays: tuple[Weekday, ...] = WEEKDAYS
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class Route(_Model):
    """Findings matching severity, stream globs and rule globs go to the
    channels; routes are tried in order and the first match ends the walk
    unless it says `continue: true` (as Alertmanager's routing tree)."""

    name: str = ""
    severity: tuple[Severity, ...] = ()  # empty: any
    streams: tuple[str, ...] = ("*",)
    rules: tuple[str, ...] = ("*",)
    channels: tuple[str, ...]
    continue_: bool = Field(False, alias="continue")
    group_by: tuple[GroupBy, ...] = ()
    group_wait: float = Field(0.0, ge=0)
    repeat_interval: float = Field(4 * 3600.0, ge=0)  # 0: tell once
    mute: tuple[str, ...] = ()
    send_cleared: bool = False

    _seconds = field_validator("group_wait", "repeat_interval", mode="before")(_seconds)

    @field_validator("severity", "streams", "rules", "channels", "group_by", "mute", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("channels")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a route needs at least one channel")
        return value


class Notifications(_Model):
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    mute_windows: dict[str, MuteWindow] = Field(default_factory=dict)
    # Where a message links to (the HTTP API's base URL), if anywhere.
    api_url: str | None = None
    max_attempts: int = Field(default=8, ge=1)
    retry_base: float = Field(default=10.0, gt=0)
    retry_max: float = Field(default=3600.0, gt=0)
    lease: float = Field(default=60.0, gt=0)  # a delivery's lease: above every channel's timeout
    poll: float = Field(default=1.0, gt=0)

    _seconds = field_validator("retry_base", "retry_max", "lease", "poll", mode="before")(_seconds)

    @model_validator(mode="after")
    def _consistent(self) -> Notifications:
        for name in self.channels:
            if not _NAME.match(name):
                raise ValueError(f"channel name {name!r}: letters, digits, _ . - only")
        names: set[str] = set()
        routes = []
        for i, route in enumerate(self.routes, 1):
            label = route.name or f"route-{i}"
            if label in names:
                raise ValueError(f"two routes are named {label!r}")
            names.add(label)
            unknown = [c for c in route.channels if c not in self.channels]
            if unknown:
                raise ValueError(f"route {label!r}: unknown channel(s) {', '.join(unknown)}")
            muted = [m for m in route.mute if m not in self.mute_windows]
            if muted:
                raise ValueError(f"route {label!r}: unknown mute window(s) {', '.join(muted)}")
            routes.append(route if route.name else route.model_copy(update={"name": label}))
        for name, channel in self.channels.items():
            if channel.timeout >= self.lease:
                raise ValueError(
                    f"channel {name!r}: timeout ({channel.timeout:g}s) must be below "
                    f"the delivery lease ({self.lease:g}s)"
                )
        if self.retry_base > self.retry_max:
            raise ValueError("retry_base must not exceed retry_max")
        object.__setattr__(self, "routes", tuple(routes))
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.routes)

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)
