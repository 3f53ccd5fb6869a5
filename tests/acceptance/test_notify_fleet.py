"""Three real `sentinel worker` processes deliver the outbox; the one
sending the first notification is SIGKILLed while the receiver holds that
request. Nothing is lost: its lease expires and another worker sends it
again, under the same idempotency key, so every notification arrives, no key
is missing, and a duplicate only ever repeats a key."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from sentinel.ingest.store import ingest_events
from sentinel.sample import generate
from tests.acceptance.fleet import fleet, scalar, wait_for
from tests.receivers import http_receiver

PACK = """
rules:
  - ref: oven.hot
    streams: "probe/*"
    kind: threshold
    field: payload.t
    above: 85
    severity: critical
    recommendation: "Inspect cooling on {stream}."
"""
STREAMS = [f"probe/oven-{i}" for i in range(6)]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_worker_killed_mid_delivery_loses_nothing(db_url: str, tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    start = generate.recent_start()
    events = [
        {
            "source": "probe",
            "stream": stream,
            "kind": "measurement",
            "occurred_at": start + timedelta(minutes=i),
            "external_id": f"{stream}-{i}",
            "payload": {"t": 90},
        }
        for i, stream in enumerate(STREAMS)
    ]
    with http_receiver(hold_first=True) as hook:
        settings = {
            "channels": {"hook": {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET"}},
            "routes": [{"channels": ["hook"]}],
            "lease": "15s",  # the killed worker's delivery is due again after this
            "poll": "0.2s",
        }
        with psycopg.connect(db_url, autocommit=True) as conn:
            ingest_events(conn, events)
        with fleet(
            db_url,
            tmp_path,
            3,
            names=["n1", "n2", "n3"],
            SENTINEL_RULES_PATH=str(pack),
            SENTINEL_NOTIFICATIONS=json.dumps(settings),
            HOOK_SECRET="k",
        ) as workers:
            assert hook.holding.wait(60), "no delivery reached the receiver"
            holder = wait_for(
                lambda: scalar(
                    db_url,
                    "SELECT w.name FROM notification n JOIN worker w ON w.id = n.lease_owner "
                    "WHERE n.status = 'sending' ORDER BY n.id LIMIT 1",
                ),
                what="the held delivery's worker",
            )
            [victim] = [w for w in workers if w.name == holder]
            victim.signal(signal.SIGKILL)
            victim.wait(10)
            hook.release.set()

            def all_sent() -> bool:
                return bool(
                    scalar(db_url, "SELECT count(*) FROM notification WHERE status = 'sent'")
                    == len(STREAMS)
                )

            wait_for(all_sent, timeout=90, what="every notification sent")
            keys = {
                r[0]
                for r in psycopg.connect(db_url).execute("SELECT idempotency_key FROM notification")
            }
        received = Counter(r.headers["idempotency-key"] for r in hook.requests)
        assert set(received) == keys and len(keys) == len(STREAMS)  # none missing, none foreign
        for body in hook.bodies():  # a message's key is its notification's
            assert [n["idempotency_key"] for n in body["notifications"]] == [
                body["idempotency_key"]
            ]
        redelivered = scalar(
            db_url, "SELECT count(*) FROM notification WHERE attempts > 1 AND status = 'sent'"
        )
        assert redelivered >= 1  # the killed worker's, sent again by another
