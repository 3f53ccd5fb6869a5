"""Configuration: environment > SENTINEL_CONFIG file (TOML or YAML) > auto-detection > defaults."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from sentinel import dsn
from sentinel.errors import ConfigError
from sentinel.notify_config import Notifications
from sentinel.types import WorkerRole, WorkerType

ENV_PREFIX = "SENTINEL_"


# Settings whose values are secrets: never echoed in an error.
SECRET_SETTINGS = frozenset({"github_webhook_secret", "jenkins_webhook_token"})

# Capabilities every worker reports from its own settings and version.
RESERVED_CAPABILITIES = frozenset({"runtimes", "max_concurrent_runs", "sentinel_version"})


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("sentinel", appauthor=False))


class ConfigFileSource(PydanticBaseSettingsSource):
    """Values from the file named by SENTINEL_CONFIG (TOML or YAML, keys with or
    without the SENTINEL_ prefix, any case)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = os.environ.get(ENV_PREFIX + "CONFIG")
        self.values = _read_config_file(Path(self.path)) if self.path else {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        known = set(self.settings_cls.model_fields)
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise ConfigError(f"{self.path}: unknown setting(s) {', '.join(unknown)}")
        return dict(self.values)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"SENTINEL_CONFIG: cannot read {path}: {exc.strerror}") from exc
    import tomllib  # here: only a config file needs a parser

    import yaml

    try:
        if path.suffix.lower() == ".toml":
            raw: Any = tomllib.loads(text)
        else:
            raw = yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"SENTINEL_CONFIG: {path} is not valid: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"SENTINEL_CONFIG: {path} must hold a mapping of settings")
    if isinstance(raw.get("sentinel"), dict):  # allow a [sentinel] table
        raw = raw["sentinel"]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).lower()
        values[name.removeprefix(ENV_PREFIX.lower())] = value
    return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str | None = None
    home: Path = Field(default_factory=default_home)
    run_interval_seconds: float = Field(30.0, gt=0)
    heartbeat_interval_seconds: float = Field(10.0, gt=0)
    lease_seconds: float = Field(30.0, gt=0)
    worker_name: str | None = None
    worker_role: WorkerRole = WorkerRole.HYBRID
    worker_type: WorkerType | None = None
    runtimes: str | None = None
    max_concurrent_runs: int = Field(4, ge=1)
    rules_path: Path | None = None
    metrics_port: int | None = Field(None, ge=0, le=65535)
    # A replica for the reads people make (the API's read endpoints); unset:
    # the primary.
    read_database_url: str | None = None
    # The direct URL of each worker's one session connection (liveness lock,
    # sweep turn, LISTEN) when SENTINEL_DATABASE_URL goes through PgBouncer;
    # unset: SENTINEL_DATABASE_URL.
    session_database_url: str | None = None
    # No server-side prepared statements on the pool (PgBouncer in transaction
    # mode); unset: detected on SENTINEL_DATABASE_URL.
    pgbouncer: bool | None = None
    # Event partitions wholly older than this are dropped (never a DELETE of
    # rows); unset: kept forever.
    event_retention_days: float | None = Field(None, gt=0)
    # `sentinel api`: where it listens, and what its webhooks are checked with.
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    github_webhook_secret: SecretStr | None = None
    jenkins_webhook_token: SecretStr | None = None
    # Below: not in the contract's table; tuning an operator may want.
    dead_after_heartbeats: int = Field(3, ge=1)
    liveness_check_seconds: float = Field(0.5, gt=0)
    max_attempts: int = Field(5, ge=1)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(300.0, gt=0)
    batch_events: int = Field(50_000, ge=1)
    # Event-driven planning (docs/architecture.md, "How planning is driven"):
    # streams announced by ingest, or found with new events by a sweep every
    # second, are planned at once, at most one run per stream per gap; off,
    # the run interval alone plans.
    event_planning: bool = True
    stream_min_gap_seconds: float = Field(0.2, ge=0)
    # The most one rule may take of one pass (engine.DEFAULT_RULE_BUDGET_SECONDS).
    rule_budget_seconds: float = Field(5.0, gt=0)
    # Finding openings of one stream in 10 minutes before further ones are
    # collapsed into one flood finding (flood.DEFAULT_FLOOD_FINDINGS).
    flood_findings: int = Field(10, ge=1)
    drain_grace_seconds: float = Field(20.0, ge=0)
    run_retention_days: float = Field(7.0, gt=0)
    # The width of one event partition (24: a day each); a change applies to
    # the partitions created after it (docs/scaling.md).
    event_partition_hours: int = Field(24, ge=1, le=24 * 31)
    log_format: Literal["json", "text"] | None = None  # default: text on a terminal
    # Custom keys added to the worker's capabilities (a JSON object), which a
    # stream's required_capabilities can ask for: {"site": "lyon"}.
    capabilities: dict[str, Any] = Field(default_factory=dict)
    # The Ed25519 private key (PEM) signing run-completion records; unset:
    # stored unsigned (sentinel/completions/dsse.py).
    signing_key_file: Path | None = None
    # Channels, routes and mute windows (sentinel/notify_config.py); none: off.
    notifications: Notifications = Notifications()  # frozen: one shared default

    @field_validator("runtimes")
    @classmethod
    def _runtimes(cls, value: str | None) -> str | None:
        if value is not None and not [r for r in value.split(",") if r.strip()]:
            raise ValueError("must be a comma-separated list of runtimes")
        return value

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & RESERVED_CAPABILITIES)
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)} cannot be set here "
                "(use SENTINEL_RUNTIMES and SENTINEL_MAX_CONCURRENT_RUNS)"
            )
        return value

    @field_validator("database_url", "read_database_url", "session_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value:
            import psycopg.conninfo  # here: `sentinel --help` loads no psycopg

            try:
                psycopg.conninfo.conninfo_to_dict(value)
            except psycopg.ProgrammingError as exc:
                reason = dsn.mask(" ".join(str(exc).split()))
                raise ValueError(
                    f"not a Postgres URL (postgresql://user@host:5432/db) "
                    f"or key=value string ({reason})"
                ) from None
        return value

    @field_validator("home")
    @classmethod
    def _home(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("must be a directory, not a file")
        return value

    @field_validator("signing_key_file")
    @classmethod
    def _signing_key_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such file (make one with `sentinel keys generate --out FILE`)")
        return value

    @field_validator("rules_path")
    @classmethod
    def _rules_path(cls, value: Path | None) -> Path | None:
        if value is not None and not value.exists():
            raise ValueError("no such file or folder")
        return value

    @model_validator(mode="after")
    def _together(self) -> Settings:
        if self.heartbeat_interval_seconds >= self.lease_seconds:
            raise ValueError(
                f"{ENV_PREFIX}HEARTBEAT_INTERVAL_SECONDS ({self.heartbeat_interval_seconds:g}) "
                f"must be below {ENV_PREFIX}LEASE_SECONDS ({self.lease_seconds:g}): "
                "a heartbeat renews the leases, so it must come before they expire"
            )
        if self.retry_base_seconds > self.retry_max_seconds:
            raise ValueError(
                f"{ENV_PREFIX}RETRY_BASE_SECONDS ({self.retry_base_seconds:g}) "
                f"must not exceed {ENV_PREFIX}RETRY_MAX_SECONDS ({self.retry_max_seconds:g})"
            )
        return self

    @field_validator("worker_name", "api_host")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("github_webhook_secret", "jenkins_webhook_token")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (unset it instead)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: the environment beats the file.
        return (init_settings, env_settings, ConfigFileSource(settings_cls))

    @property
    def runtime_list(self) -> list[str] | None:
        if self.runtimes is None:
            return None
        return [r.strip() for r in self.runtimes.split(",") if r.strip()]

    def resolved_worker_name(self) -> str:
        return self.worker_name or f"sentinel-{socket.gethostname()}-{os.getpid()}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning a validation failure into one clear line per
    bad variable."""
    try:
        return Settings(**overrides)
    except SettingsError as exc:  # not JSON where a JSON object is expected
        found = re.search(r'field "(\w+)"', str(exc))
        name = ENV_PREFIX + (found.group(1).upper() if found else "CAPABILITIES")
        raise ConfigError(
            f"invalid configuration: {name}: not a JSON object; give one, "
            f"""e.g. {name}='{{"site": "lyon"}}'"""
        ) from exc
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            if error["loc"]:
                field = str(error["loc"][0])
                lines.append(f"{ENV_PREFIX}{field.upper()}: {_allowed(error)}")
            else:  # a rule across settings: its message names them
                lines.append(_message(error))
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from exc


def _message(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _allowed(error: Any) -> str:
    value = error.get("input")
    if isinstance(value, str) and str(error["loc"][0]).endswith("database_url"):
        value = dsn.mask(value)
    if str(error["loc"][0]) in SECRET_SETTINGS:
        value = "***"
    message = _message(error)
    if error["type"] in ("enum", "literal_error"):
        message = "must be one of " + str(error.get("ctx", {}).get("expected", ""))
    return " ".join(f"{message} (got {value!r})".split())
