"""Every SENTINEL_* setting refuses a wrong value with one line naming it (the
README's promise), and settings that only make sense together are checked
together."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import ConfigError
from sentinel.settings import ENV_PREFIX, Settings, load_settings

# A wrong value for every setting. `{file}` is an existing regular file.
BAD_VALUES: dict[str, list[str]] = {
    "database_url": ["not a url", "postgresql://u:pw@h/x?bogus=1"],
    "home": ["{file}"],
    "run_interval_seconds": ["abc", "0", "-1"],
    "heartbeat_interval_seconds": ["abc", "0"],
    "lease_seconds": ["abc", "0"],
    "worker_name": ["  "],
    "worker_role": ["boss"],
    "worker_type": ["vm"],
    "runtimes": [",", " "],
    "max_concurrent_runs": ["0", "many", "1.5"],
    "rules_path": ["/nonexistent/pack.yaml"],
    "metrics_port": ["70000", "-1", "http"],
    "read_database_url": ["not a url", "postgresql://u:pw@h/x?bogus=1"],
    "session_database_url": ["not a url", "postgresql://u:pw@h/x?bogus=1"],
    "pgbouncer": ["maybe", "2"],
    "api_host": ["", "  "],
    "api_port": ["0", "70000", "http"],
    "github_webhook_secret": ["  "],
    "jenkins_webhook_token": ["  "],
    "dead_after_heartbeats": ["0"],
    "liveness_check_seconds": ["0"],
    "max_attempts": ["0"],
    "retry_base_seconds": ["0"],
    "retry_max_seconds": ["0"],
    "batch_events": ["0"],
    "event_planning": ["maybe", "2"],
    "stream_min_gap_seconds": ["-0.1", "soon"],
    "rule_budget_seconds": ["0", "-1", "soon"],
    "flood_findings": ["0", "-3", "ten", "2.5"],
    "drain_grace_seconds": ["-1"],
    "run_retention_days": ["0"],
    "event_retention_days": ["0", "-1", "forever"],
    "event_partition_hours": ["0", "1.5", "10000"],
    "log_format": ["xml"],
    "capabilities": ["site=lyon", '{"runtimes": ["python"]}', "[1, 2]"],
    "signing_key_file": ["/nonexistent/key.pem", "/"],
    "notifications": [
        "not json",
        '{"routes": [{"channels": ["nowhere"]}]}',
        '{"channels": {"c": {"type": "pager"}}}',
        '{"channels": {"c": {"type": "webhook", "url": "http://x"}}}',  # no HMAC secret
        '{"channels": {"c": {"type": "slack", "url": "u"}}, "routes": [{"channels": []}]}',
        '{"channels": {"c": {"type": "slack", "url": "u"}}, '
        '"routes": [{"channels": ["c"], "repeat_interval": "soon"}]}',
        '{"mute_windows": {"n": {"start": "22:00", "end": "06:00", "timezone": "Mars/Base"}}}',
    ],
}

CASES = [(field, value) for field, values in BAD_VALUES.items() for value in values]


def test_every_setting_has_a_bad_value_case() -> None:
    assert set(BAD_VALUES) == set(Settings.model_fields)


@pytest.mark.parametrize(("field", "value"), CASES)
def test_a_wrong_value_is_one_line_naming_the_variable(
    field: str, value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    regular_file = tmp_path / "a-file"
    regular_file.write_text("")
    variable = ENV_PREFIX + field.upper()
    monkeypatch.setenv(variable, value.replace("{file}", str(regular_file)))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert variable in message
    assert "pw" not in message  # a password in a wrong URL stays hidden


def test_a_wrong_secret_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PREFIX + "GITHUB_WEBHOOK_SECRET", " \t ")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "SENTINEL_GITHUB_WEBHOOK_SECRET" in str(raised.value)
    assert "\\t" not in str(raised.value) and "***" in str(raised.value)


def test_a_config_file_that_cannot_be_read_names_sentinel_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SENTINEL_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"^SENTINEL_CONFIG: cannot read"):
        load_settings()


def test_a_wrong_value_in_the_config_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "sentinel.toml"
    config.write_text('log_format = "xml"\n')
    monkeypatch.setenv("SENTINEL_CONFIG", str(config))
    with pytest.raises(ConfigError, match="SENTINEL_LOG_FORMAT"):
        load_settings()


@pytest.mark.parametrize(("heartbeat", "lease"), [("30", "30"), ("45", "30"), ("10", "5")])
def test_a_heartbeat_at_or_above_the_lease_is_refused_naming_both(
    heartbeat: str, lease: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_HEARTBEAT_INTERVAL_SECONDS", heartbeat)
    monkeypatch.setenv("SENTINEL_LEASE_SECONDS", lease)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "SENTINEL_HEARTBEAT_INTERVAL_SECONDS" in message
    assert "SENTINEL_LEASE_SECONDS" in message


def test_a_retry_base_above_its_maximum_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SENTINEL_RETRY_BASE_SECONDS", "600")
    with pytest.raises(ConfigError, match=r"SENTINEL_RETRY_BASE_SECONDS.*SENTINEL_RETRY_MAX"):
        load_settings()


def test_good_values_are_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "DATABASE_URL": "host=db password=x dbname=sentinel",
        "HOME": str(tmp_path / "not-yet"),
        "LOG_FORMAT": "text",
        "RULES_PATH": str(tmp_path),
        "HEARTBEAT_INTERVAL_SECONDS": "5",
        "LEASE_SECONDS": "20",
    }.items():
        monkeypatch.setenv(ENV_PREFIX + name, value)
    settings = load_settings()
    assert settings.log_format == "text" and settings.lease_seconds == 20
