"""Notifications on a real Postgres with real receivers on 127.0.0.1: the
outbox written with the findings by real passes, delivered by the notifier
to an HTTP receiver (Slack, the signed webhook), a real SMTP server
(aiosmtpd), with cooldown, grouping and mute windows on a pinned clock, the
review, shelving and suppression respected, and a failing receiver's
notification dead with its error."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg_pool import ConnectionPool

from sentinel.cli import cli
from sentinel.db.connect import make_pool
from sentinel.findings import review
from sentinel.ingest.store import ingest_events
from sentinel.notify import routing
from sentinel.notify_config import Notifications
from sentinel.rules import pack as packs
from sentinel.sample import generate
from sentinel.worker.models import Completed
from sentinel.worker.notifier import Notifier
from sentinel.worker.packs import PackStore, RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore
from tests.receivers import HttpReceiver, http_receiver, smtp_receiver

PACK = """
rules:
  - ref: oven.hot
    streams: "probe/*"
    kinds: [measurement]
    kind: threshold
    field: payload.t
    above: 85
    clear_below: 82
    severity: critical
    recommendation: "Inspect cooling on {stream}."
  - ref: oven.warm
    streams: "probe/*"
    kinds: [measurement]
    kind: threshold
    field: payload.t
    above: 70
    clear_below: 68
    severity: warning
    recommendation: "Watch {stream}: {value}."
"""
SECRET = "s3cret-hmac-key"


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-notify") as opened:
        yield opened


class Plant:
    """Readings stored, passes run and the notifier driven, one call each."""

    def __init__(self, conn: psycopg.Connection, pool: ConnectionPool, config: Any) -> None:
        self.conn, self.pool = conn, pool
        self.config = Notifications.model_validate(config)
        self.n = 0
        self.start = generate.recent_start()
        PackStore(conn).save(packs.load_documents({"oven.yaml": PACK}, "oven"))
        row = conn.execute(
            "INSERT INTO worker (name, capabilities, last_heartbeat) "
            "VALUES ('notify', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
        ).fetchone()
        assert row is not None
        self.worker = int(row[0])
        self.notifier = Notifier(pool, self.config, worker_id=self.worker)

    def readings(self, *values: float, stream: str = "probe/oven") -> None:
        events = []
        for v in values:
            events.append(
                {
                    "source": "probe",
                    "stream": stream,
                    "kind": "measurement",
                    "occurred_at": self.start + timedelta(minutes=self.n),
                    "external_id": f"t-{self.n}",
                    "payload": {"t": v},
                }
            )
            self.n += 1
        ingest_events(self.conn, events)

    def run_pass(self) -> None:
        store = RunStore(self.conn)
        store.plan(3600, 5, exact=True)
        runner = PassRunner(
            self.pool,
            RuleSource(self.pool, None),
            batch_events=50_000,
            notifications=self.config,
        )
        outcomes = [runner.run(c, self.worker) for c in store.claim(self.worker, 100, 60.0)]
        assert outcomes and all(isinstance(o, Completed) for o in outcomes), outcomes

    def deliver(self, at: datetime | None = None) -> int:
        return self.notifier.run_once(now=at)

    def db_now(self) -> datetime:
        row = self.conn.execute("SELECT now()").fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    def outbox(self) -> list[tuple[Any, ...]]:
        """(kind, channel, status, rule) of every notification, oldest first."""
        return [
            tuple(r)
            for r in self.conn.execute(
                "SELECT kind::text, channel, status::text, payload->>'rule' FROM notification "
                "ORDER BY id"
            )
        ]

    def recommendation(self, rule: str) -> int:
        row = self.conn.execute(
            "SELECT r.id FROM recommendation r JOIN detection d ON d.id = r.detection_id "
            "WHERE d.rule_ref = %s ORDER BY r.id DESC LIMIT 1",
            [rule],
        ).fetchone()
        assert row is not None
        return int(row[0])


def webhook(receiver: HttpReceiver, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "url": receiver.url + "/hook", "secret_env": "HOOK_SECRET", **extra}


def valid_signature(request: Any) -> bool:
    timestamp = request.headers["x-sentinel-timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    return bool(request.headers["x-sentinel-signature"] == "sha256=" + expected)


@pytest.fixture(autouse=True)
def _hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def test_a_critical_finding_reaches_every_routed_channel_once(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as slack, http_receiver() as hook, smtp_receiver() as mail:
        config = {
            "api_url": "https://sentinel.example",
            "channels": {
                "slack": {"type": "slack", "url": slack.url + "/services/T/B/X"},
                "hook": webhook(hook),
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": mail.port,
                    "security": "none",
                    "from": "sentinel@example.com",
                    "to": ["ops@example.com"],
                },
            },
            "routes": [
                {"severity": "critical", "channels": ["slack", "hook"], "continue": True},
                {"severity": ["critical"], "streams": "probe/*", "channels": ["mail"]},
                {"rules": "oven.*", "channels": ["hook"]},  # the warnings: first match ends
            ],
        }
        plant = Plant(conn, pool, config)
        plant.readings(60, 90)  # both thresholds crossed: a critical and a warning
        plant.run_pass()
        assert plant.deliver() == 4

        [slack_request] = slack.requests
        text = slack_request.json()["text"]
        assert "[CRITICAL] firing: oven.hot on probe/oven" in text
        assert "Inspect cooling on probe/oven." in text
        assert "https://sentinel.example/api/detections/" in text
        assert slack_request.headers["idempotency-key"].startswith("sn-")

        assert len(hook.requests) == 2
        assert all(valid_signature(r) for r in hook.requests)
        by_rule = {r.json()["notifications"][0]["rule"]: r for r in hook.requests}
        assert set(by_rule) == {"oven.hot", "oven.warm"}
        body = by_rule["oven.warm"].json()
        assert body["notifications"][0]["severity"] == "warning"
        assert body["idempotency_key"] == by_rule["oven.warm"].headers["idempotency-key"]

        [message] = mail.messages
        assert "[CRITICAL] firing: oven.hot on probe/oven" in message["Subject"]
        parts = {p.get_content_type(): p.get_payload(decode=True) for p in message.walk()}
        assert b"Inspect cooling on probe/oven." in parts["text/plain"]
        assert b"<h3>" in parts["text/html"]

        keys = [r.headers["idempotency-key"] for r in slack.requests + hook.requests]
        assert len(set(keys)) == 3  # one per notification, never shared

        plant.readings(91, 92)  # still hot: reported again, told already
        plant.run_pass()
        assert plant.deliver() == 0
        assert len(slack.requests) == 1 and len(hook.requests) == 2
        assert [s for _, _, s, _ in plant.outbox()] == ["sent"] * 4


def test_a_pass_run_again_writes_each_notification_once(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as hook:
        plant = Plant(
            conn, pool, {"channels": {"hook": webhook(hook)}, "routes": [{"channels": ["hook"]}]}
        )
        plant.readings(90)
        plant.run_pass()
        # A replay re-reads the stream and reports the same findings again.
        assert RunStore(conn).replay("probe/oven", plant.start) is not None
        plant.run_pass()
        assert [k for k, *_ in plant.outbox()] == ["firing", "firing"]  # hot and warm


def test_cooldown_repeats_while_active_and_unacknowledged(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as hook:
        config = {
            "channels": {"hook": webhook(hook)},
            "routes": [{"rules": "oven.hot", "channels": ["hook"], "repeat_interval": "1h"}],
        }
        plant = Plant(conn, pool, config)
        plant.readings(90)
        plant.run_pass()
        t0 = plant.db_now()
        assert plant.deliver(t0) == 1
        assert plant.deliver(t0 + timedelta(minutes=59)) == 0  # cooling down
        assert plant.deliver(t0 + timedelta(minutes=61)) == 1
        assert plant.deliver(t0 + timedelta(minutes=62)) == 0  # written once
        kinds = [b["kind"] for b in hook.bodies()]
        assert kinds == ["firing", "repeat"]
        # The next repeat counts from the last one sent (at t0 + 61 min).
        assert plant.deliver(t0 + timedelta(minutes=120)) == 0
        assert plant.deliver(t0 + timedelta(minutes=122)) == 1
        repeats = [b["notifications"][0] for b in hook.bodies() if b["kind"] == "repeat"]
        assert [r["repeat"] for r in repeats] == [1, 2]
        assert len({b["idempotency_key"] for b in hook.bodies()}) == 3

        review.acknowledge(conn, plant.recommendation("oven.hot"), actor="t")
        assert plant.deliver(t0 + timedelta(hours=10)) == 0  # acknowledged: quiet
        assert len(hook.requests) == 3


def test_shelved_and_acknowledged_findings_are_not_told(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as hook:
        config = {
            "channels": {"hook": webhook(hook)},
            "routes": [{"channels": ["hook"], "group_wait": "10m", "repeat_interval": "1h"}],
        }
        plant = Plant(conn, pool, config)
        plant.readings(90)  # hot and warm, both waiting out the group wait
        plant.run_pass()
        t0 = plant.db_now()
        shelf = conn.execute(
            "INSERT INTO shelf (stream_glob, reason, actor, expires_at) "
            "VALUES ('probe/*', 'maintenance', 't', now() + interval '1 day') RETURNING id"
        ).fetchone()
        assert shelf is not None
        conn.execute(
            "UPDATE recommendation SET shelf_id = %s WHERE id = %s",
            [shelf[0], plant.recommendation("oven.hot")],
        )
        review.acknowledge(conn, plant.recommendation("oven.warm"), actor="t")
        assert plant.deliver(t0 + timedelta(minutes=11)) == 0
        assert hook.requests == []
        errors = dict(
            conn.execute(
                "SELECT payload->>'rule', last_error FROM notification WHERE status = 'skipped'"
            ).fetchall()
        )
        assert errors == {
            "oven.hot": "shelved before delivery",
            "oven.warm": "acknowledged before delivery",
        }
        assert plant.deliver(t0 + timedelta(hours=5)) == 0  # and never repeated
        assert hook.requests == []


def test_grouping_waits_and_sends_one_message_per_group(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as hook:
        config = {
            "channels": {"hook": webhook(hook)},
            "routes": [{"channels": ["hook"], "group_by": ["stream"], "group_wait": "5m"}],
        }
        plant = Plant(conn, pool, config)
        plant.readings(90, stream="probe/a")
        plant.readings(90, stream="probe/b")
        plant.run_pass()
        t0 = plant.db_now()
        assert plant.deliver(t0) == 0  # the group wait
        assert plant.deliver(t0 + timedelta(minutes=4)) == 0
        assert plant.deliver(t0 + timedelta(minutes=6)) == 4
        assert len(hook.requests) == 2  # one message per stream, both findings in each
        for request in hook.requests:
            body = request.json()
            assert {n["rule"] for n in body["notifications"]} == {"oven.hot", "oven.warm"}
            assert len({n["stream"] for n in body["notifications"]}) == 1
            keys = {n["idempotency_key"] for n in body["notifications"]}
            assert body["idempotency_key"] in keys  # the message's key is its first's


def test_a_mute_window_skips_what_falls_in_it(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as hook:
        config = {
            "channels": {"hook": webhook(hook)},
            "mute_windows": {"nights": {"start": "22:00", "end": "06:00"}},
            "routes": [{"channels": ["hook"], "mute": ["nights"]}],
        }
        plant = Plant(conn, pool, config)
        plant.readings(90)
        plant.run_pass()
        night = (plant.db_now() + timedelta(days=1)).replace(hour=23, tzinfo=UTC)
        assert plant.deliver(night) == 0
        assert hook.requests == []
        assert {r[0] for r in conn.execute("SELECT last_error FROM notification")} == {
            "muted (nights)"
        }


def test_a_cleared_notice_follows_the_firing_where_the_route_asks(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    with http_receiver() as hook:
        config = {
            "channels": {"hook": webhook(hook)},
            "routes": [{"rules": "oven.hot", "channels": ["hook"], "send_cleared": True}],
        }
        plant = Plant(conn, pool, config)
        plant.readings(90)
        plant.run_pass()
        plant.readings(60, 60)  # the episode clears
        plant.run_pass()
        assert plant.deliver() == 2
        assert [b["kind"] for b in hook.bodies()] == ["firing", "resolved"]
        resolved = hook.bodies()[1]["notifications"][0]
        assert resolved["cleared_at"] is not None


def test_a_receiver_that_keeps_failing_sends_the_notification_to_dead(
    conn: psycopg.Connection,
    pool: ConnectionPool,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with http_receiver(status=503) as hook:
        config = {
            "channels": {"hook": webhook(hook)},
            "routes": [{"rules": "oven.hot", "channels": ["hook"]}],
            "max_attempts": 3,
            "retry_base": "1m",
        }
        plant = Plant(conn, pool, config)
        plant.readings(90)
        plant.run_pass()
        t0 = plant.db_now()
        for hours in range(3):  # each attempt well past the backoff
            assert plant.deliver(t0 + timedelta(hours=hours)) == 0
        assert len(hook.requests) == 3
        assert len({r.headers["idempotency-key"] for r in hook.requests}) == 1
        row = conn.execute("SELECT id, status::text, attempts, last_error FROM notification")
        [(nid, status, attempts, error)] = row.fetchall()
        assert (status, attempts) == ("dead", 3)
        assert error == "HTTP 503: ok"
        assert plant.deliver(t0 + timedelta(hours=9)) == 0  # dead stays dead

        monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
        listed = CliRunner().invoke(cli, ["notifications", "list", "--status", "dead", "--json"])
        assert listed.exit_code == 0, listed.output
        [shown] = json.loads(listed.output)
        assert (shown["id"], shown["last_error"], shown["channel"]) == (nid, error, "hook")
        again = CliRunner().invoke(cli, ["notifications", "retry", str(nid)])
        assert again.exit_code == 0 and "queued again" in again.output
        hook.status = 200
        assert plant.deliver() == 1
        refused = CliRunner().invoke(cli, ["notifications", "retry", str(nid)])
        assert refused.exit_code == 1
        assert "sentinel: error: notification" in refused.output and "is sent" in refused.output


def test_a_refusal_for_good_is_dead_at_once_and_no_secret_is_kept(
    conn: psycopg.Connection, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    with http_receiver(status=404) as slack:
        monkeypatch.setenv("SLACK_URL", slack.url + "/services/SECRET-PATH")
        config = {
            "channels": {"slack": {"type": "slack", "url_env": "SLACK_URL"}},
            "routes": [{"rules": "oven.hot", "channels": ["slack"]}],
        }
        plant = Plant(conn, pool, config)
        plant.readings(90)
        plant.run_pass()
        plant.deliver()
        [(status, error)] = conn.execute("SELECT status::text, last_error FROM notification")
        assert status == "dead" and error.startswith("HTTP 404")
        assert "SECRET-PATH" not in error


def test_repeat_keys_are_the_same_in_sql_and_python() -> None:
    """The SQL repeat writer hashes as routing.idempotency_key does."""
    assert routing.idempotency_key("f", "r", "c", "repeat", 2).startswith("sn-")
    assert len(routing.idempotency_key("f", "r", "c", "repeat", 2)) == 43


def test_sql_repeat_key_matches_python(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT 'sn-' || left(encode(sha256(convert_to(concat_ws(chr(31), 'f', 'r', 'c', "
        "'repeat', '2'), 'UTF8')), 'hex'), 40)"
    ).fetchone()
    assert row is not None
    assert row[0] == routing.idempotency_key("f", "r", "c", "repeat", 2)
