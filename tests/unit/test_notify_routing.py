"""Routing, mute windows, keys, the webhook's signature and DSSE, pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from sentinel.completions import dsse
from sentinel.notify import channels, routing
from sentinel.notify_config import Notifications

CONFIG = Notifications.model_validate(
    {
        "channels": {n: {"type": "slack", "url": "http://x"} for n in ("a", "b", "c")},
        "mute_windows": {
            "nights": {"start": "22:00", "end": "06:00", "weekdays": ["mon"]},
            "lunch": {"start": "12:00", "end": "13:00", "timezone": "Europe/Paris"},
        },
        "routes": [
            {"name": "crit", "severity": "critical", "channels": ["a"], "continue": True},
            {
                "name": "press",
                "streams": ["plant-a/*/press-*"],
                "rules": "press.*",
                "channels": ["b"],
                "mute": ["nights", "lunch"],
            },
            {"name": "rest", "channels": ["c"]},
        ],
    }
)


def _names(severity: str, stream: str, rule: str) -> list[str]:
    subject = routing.Subject(severity, stream, rule)
    return [r.name for r in routing.routes_for(CONFIG, subject)]


def test_the_first_match_ends_the_walk_unless_it_continues() -> None:
    assert _names("critical", "plant-a/l1/press-1", "press.hot") == ["crit", "press"]
    assert _names("warning", "plant-a/l1/press-1", "press.hot") == ["press"]
    assert _names("critical", "ci/main", "ci.failed") == ["crit", "rest"]
    assert _names("info", "plant-a/l1/press-1", "oven.hot") == ["rest"]


def test_mute_windows_cross_midnight_on_their_days_and_keep_their_zone() -> None:
    route = CONFIG.route("press")
    assert route is not None
    monday_night = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # a Monday
    tuesday_dawn = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # still Monday's night
    tuesday_night = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert routing.muted_by(CONFIG, route, monday_night) == "nights"
    assert routing.muted_by(CONFIG, route, tuesday_dawn) == "nights"
    assert routing.muted_by(CONFIG, route, tuesday_night) is None
    paris_lunch = datetime(2026, 11, 24, 11, 30, tzinfo=UTC)  # 12:30 in Paris
    assert routing.muted_by(CONFIG, route, paris_lunch) == "lunch"
    assert routing.muted_by(CONFIG, route, datetime(2026, 11, 24, 12, 30, tzinfo=UTC)) is None


def test_keys_are_stable_and_differ_by_what_they_say() -> None:
    one = routing.idempotency_key("fp", "crit", "a", "firing")
    assert one == routing.idempotency_key("fp", "crit", "a", "firing")
    others = {
        routing.idempotency_key("fp", "crit", "b", "firing"),
        routing.idempotency_key("fp", "crit", "a", "resolved"),
        routing.idempotency_key("fp", "crit", "a", "repeat", 1),
        routing.idempotency_key("fp2", "crit", "a", "firing"),
    }
    assert one not in others and len(others) == 4


def test_the_webhook_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"a": 1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert channels.signature("k", "1700000000", body) == "sha256=" + expected
    assert channels.signature("k", "1700000001", body) != "sha256=" + expected


@pytest.mark.parametrize(
    "config",
    [
        {"routes": [{"channels": ["missing"]}]},
        {"channels": {"w": {"type": "webhook", "url": "http://x"}}},
        {"channels": {"s": {"type": "slack"}}},
        {"channels": {"e": {"type": "email", "host": "h"}}},
        {"channels": {"s": {"type": "slack", "url": "u", "timeout": "90s"}}, "lease": "1m"},
        {"mute_windows": {"n": {"start": "25:00", "end": "06:00"}}},
        {
            "channels": {"s": {"type": "slack", "url": "u"}},
            "routes": [{"name": "x", "channels": ["s"]}] * 2,
        },
    ],
)
def test_inconsistent_configs_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Notifications.model_validate(config)


def test_dsse_pae_is_the_spec_s_encoding() -> None:
    assert dsse.pae("t/x", b"hello") == b"DSSEv1 3 t/x 5 hello"


def test_dsse_verify_names_what_is_wrong() -> None:
    signer = dsse.Signer(dsse.generate())
    public = signer.private_key.public_key()
    envelope = signer.sign(b'{"run_id": 1}')
    assert dsse.verify(envelope, public) is None
    changed = {**envelope, "payload": base64.b64encode(b'{"run_id": 2}').decode()}
    assert "does not match the payload" in str(dsse.verify(changed, public))
    cut = {
        **envelope,
        "signatures": [{**envelope["signatures"][0], "sig": envelope["signatures"][0]["sig"][:40]}],
    }
    assert "truncated" in str(dsse.verify(cut, public))
    other = dsse.generate().public_key()
    assert "wrong key" in str(dsse.verify(envelope, other))
    assert "unsigned" in str(dsse.verify(dsse.envelope(b"{}"), public))
    retyped = {**envelope, "payloadType": "application/json"}
    assert "payload type" in str(dsse.verify(retyped, public))
