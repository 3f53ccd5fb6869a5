"""`sentinel api` as a real process on a real Postgres, through httpx: every
endpoint with and without its token and scope, webhooks stored once through
ingest's validation, refused bodies, keyset pages under concurrent inserts,
and a GitHub delivery that becomes a finding through a worker's pass."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sentinel.api.webhooks import github
from tests.acceptance.api_process import ApiProcess, token
from tests.acceptance.test_cli import sentinel

SECRET = "gh-s3cret-for-tests"
JENKINS = "jenkins-token-for-tests"
FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "webhooks"
PACK = """
rules:
  - ref: ci.run_failed
    streams: "ci/*"
    kinds: [run_completed]
    kind: condition
    when:
      all:
        - {field: payload.conclusion, operator: equals, value: failure}
    severity: warning
    recommendation: "Run {payload.run_id} of {stream} failed; see {payload.url}."
"""


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiProcess]:
    process = ApiProcess(
        db_url,
        tmp_path,
        SENTINEL_GITHUB_WEBHOOK_SECRET=SECRET,
        SENTINEL_JENKINS_WEBHOOK_TOKEN=JENKINS,
    )
    yield process
    process.stop()


@pytest.fixture
def tokens(db_url: str) -> dict[str, str]:
    """One token per scope, and one with all three."""
    made = {scope: token(db_url, f"t-{scope}", scope) for scope in ("read", "write", "ingest")}
    made["all"] = token(db_url, "alice", "read", "write", "ingest")
    return made


def count(url: str, query: str = "SELECT count(*) FROM event") -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def signed(body: bytes, event: str, delivery: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github.signature(secret.encode(), body),
        "Content-Type": "application/json",
    }


def still(row: dict[str, Any]) -> dict[str, Any]:
    """A row without what moves with the clock (ages, time left)."""
    moving = ("due_in", "lease_left", "age", "updated_age", "recommendation_age")
    return {k: v for k, v in row.items() if k not in moving}


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


# ---- health, docs ----------------------------------------------------------------


def test_health_ready_and_the_openapi_docs_need_no_token(api: ApiProcess) -> None:
    assert api.request("GET", "/health").json() == {"status": "ok"}
    ready = api.request("GET", "/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert api.request("GET", "/docs").status_code == 200
    paths = api.request("GET", "/openapi.json").json()["paths"]
    for path in ("/api/runs", "/api/runs/{run_id}/anomalies", "/api/webhooks/github", "/api/stats"):
        assert path in paths


def test_ready_is_503_on_a_database_behind_this_sentinel(api: ApiProcess, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    answer = api.request("GET", "/ready")
    assert answer.status_code == 503
    assert "sentinel db upgrade" in answer.json()["reason"]


# ---- auth ---------------------------------------------------------------------------

# Every endpoint under /api that takes a token, with the scope it needs.
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("GET", "/api/runs", "read", None),
    ("GET", "/api/runs/1", "read", None),
    ("GET", "/api/runs/1/anomalies", "read", None),
    ("GET", "/api/workers", "read", None),
    ("GET", "/api/streams", "read", None),
    ("GET", "/api/recommendations", "read", None),
    ("GET", "/api/recommendations/1/history", "read", None),
    ("GET", "/api/detections/1", "read", None),
    ("GET", "/api/stats", "read", None),
    ("POST", "/api/recommendations/1/acknowledge", "write", {"comment": "seen"}),
    ("POST", "/api/recommendations/1/dismiss", "write", {}),
    ("POST", "/api/streams/plant/a/recheck", "write", {"since": "2026-11-22T10:00:00Z"}),
    ("POST", "/api/runs/1/retry", "write", None),
    ("POST", "/api/webhooks/generic", "ingest", []),
    ("POST", "/api/webhooks/jenkins", "ingest", {}),
]


def test_every_endpoint_wants_a_live_token_with_its_scope(
    api: ApiProcess, tokens: dict[str, str]
) -> None:
    for method, path, scope, body in ENDPOINTS:
        kwargs = {"json": body} if body is not None else {}
        missing = api.request(method, path, **kwargs)
        assert missing.status_code == 401, (path, missing.text)
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert missing.json() == {"error": "missing bearer token"}
        wrong = api.request(method, path, "snt_not-a-token", **kwargs)
        assert wrong.status_code == 401, path
        for other in {"read", "write", "ingest"} - {scope}:
            refused = api.request(method, path, tokens[other], **kwargs)
            assert refused.status_code == 403, (path, other)
            assert refused.json()["error"] == f"token t-{other} lacks the {scope} scope"
        for name in (scope, "all"):
            allowed = api.request(method, path, tokens[name], **kwargs)
            assert allowed.status_code not in (401, 403), (path, name, allowed.text)
    log = api.log_text()
    assert "refused" in log and "lacks the read scope" in log
    for secret in (*tokens.values(), "snt_not-a-token"):
        assert secret not in log  # refusals are logged without the token


def test_tokens_are_created_listed_and_revoked_on_the_command_line(
    api: ApiProcess, db_url: str
) -> None:
    env = {"SENTINEL_DATABASE_URL": db_url}
    made = sentinel("api", "tokens", "create", "ci-bot", "--scope", "read,ingest", env=env)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("snt_") and "not shown again" in made.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        [(stored,)] = conn.execute("SELECT token_hash FROM api_token").fetchall()
    assert secret not in stored and len(stored) == 64  # only the sha256 is kept
    assert api.request("GET", "/api/stats", secret).status_code == 200
    listed = sentinel("api", "tokens", "list", "--json", env=env)
    [row] = json.loads(listed.stdout)
    assert row["name"] == "ci-bot" and row["scopes"] == ["read", "ingest"]
    assert row["last_used_at"] is not None and row["revoked_at"] is None
    assert secret not in listed.stdout
    again = sentinel("api", "tokens", "create", "ci-bot", "--scope", "read", env=env)
    assert again.returncode == 1 and "revoke it first" in again.stderr
    bad = sentinel("api", "tokens", "create", "x", "--scope", "read,admin", env=env)
    assert bad.returncode == 1 and "unknown scope(s) admin" in bad.stderr
    assert sentinel("api", "tokens", "revoke", "ci-bot", env=env).returncode == 0
    assert api.request("GET", "/api/stats", secret).status_code == 401
    gone = sentinel("api", "tokens", "revoke", "ci-bot", env=env)
    assert gone.returncode == 1 and "no live token named ci-bot" in gone.stderr


# ---- webhooks -----------------------------------------------------------------------


def test_a_signed_github_delivery_is_stored_once_even_when_sent_twice(
    api: ApiProcess, db_url: str
) -> None:
    body = fixture("workflow_run_completed")
    for expected in ({"accepted": 1, "duplicate": 0}, {"accepted": 0, "duplicate": 1}):
        answer = api.request(
            "POST",
            "/api/webhooks/github",
            content=body,
            headers=signed(body, "workflow_run", "d-1"),
        )
        assert answer.status_code == 200 and answer.json() == expected
    # requested then in_progress: two deliveries, one start of the run attempt
    for delivery, name in (("d-2", "workflow_run_requested"), ("d-3", "workflow_run_in_progress")):
        body = fixture(name)
        api.request(
            "POST",
            "/api/webhooks/github",
            content=body,
            headers=signed(body, "workflow_run", delivery),
        ).raise_for_status()
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT kind, stream, external_id FROM event ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["run_completed", "run_started"]
    assert rows[0][1:] == ("ci/octo-org/octo-repo/Build", "d-1")
    ping = fixture("ping")
    answer = api.request(
        "POST", "/api/webhooks/github", content=ping, headers=signed(ping, "ping", "d-4")
    )
    assert answer.status_code == 200 and answer.json()["ignored"] == "ping"
    assert count(db_url) == 2


def test_an_unsigned_or_badly_signed_delivery_is_refused_and_stores_nothing(
    api: ApiProcess, db_url: str
) -> None:
    body = fixture("workflow_run_completed")
    wrong = signed(body, "workflow_run", "d-1", secret="not-the-secret")
    answer = api.request("POST", "/api/webhooks/github", content=body, headers=wrong)
    assert answer.status_code == 401 and answer.json() == {"error": "invalid X-Hub-Signature-256"}
    tampered = signed(body, "workflow_run", "d-1")
    answer = api.request(
        "POST",
        "/api/webhooks/github",
        content=body.replace(b"failure", b"success"),
        headers=tampered,
    )
    assert answer.status_code == 401
    unsigned = {
        k: v for k, v in signed(body, "workflow_run", "d-1").items() if "Signature" not in k
    }
    answer = api.request("POST", "/api/webhooks/github", content=body, headers=unsigned)
    assert answer.status_code == 401 and answer.json() == {"error": "missing X-Hub-Signature-256"}
    assert count(db_url) == 0
    assert SECRET not in api.log_text()


def test_github_deliveries_are_refused_while_no_secret_is_set(db_url: str, tmp_path: Path) -> None:
    process = ApiProcess(db_url, tmp_path)
    try:
        body = fixture("workflow_run_completed")
        answer = process.request(
            "POST",
            "/api/webhooks/github",
            content=body,
            headers=signed(body, "workflow_run", "d-1"),
        )
        assert answer.status_code == 403
        assert "SENTINEL_GITHUB_WEBHOOK_SECRET" in answer.json()["error"]
    finally:
        process.stop()
    assert count(db_url) == 0


def test_malformed_and_oversized_bodies_are_refused_and_store_nothing(
    api: ApiProcess, db_url: str, tokens: dict[str, str]
) -> None:
    garbage = b'{"action": "completed", '
    answer = api.request(
        "POST",
        "/api/webhooks/github",
        content=garbage,
        headers=signed(garbage, "workflow_run", "d-1"),
    )
    assert answer.status_code == 400 and answer.json()["error"].startswith("invalid JSON")
    body = json.loads(fixture("workflow_run_completed"))
    del body["workflow_run"]["id"]
    raw = json.dumps(body).encode()
    answer = api.request(
        "POST", "/api/webhooks/github", content=raw, headers=signed(raw, "workflow_run", "d-2")
    )
    assert answer.status_code == 400 and answer.json() == {"error": "missing workflow_run.id"}
    good = {"source": "s", "stream": "a/1", "occurred_at": "2026-11-22T10:00:00Z"}
    bad = {"source": "s", "stream": "a/1", "occurred_at": "yesterday"}
    answer = api.request("POST", "/api/webhooks/generic", tokens["ingest"], json=[good, bad])
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("event 2: occurred_at is not an ISO-8601 timestamp")
    answer = api.request("POST", "/api/webhooks/generic", tokens["ingest"], content=b"[1,")
    assert answer.status_code == 400
    big = b"[" + b" " * (1024 * 1024) + b"]"
    answer = api.request("POST", "/api/webhooks/generic", tokens["ingest"], content=big)
    assert answer.status_code == 413 and "over 1048576 bytes" in answer.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for _ in range(20):
            yield b" " * 65536

    answer = api.request("POST", "/api/webhooks/generic", tokens["ingest"], content=chunks())
    assert answer.status_code == 413
    answer = api.request(
        "POST", "/api/recommendations/1/acknowledge", tokens["write"], content=b'{"comment": '
    )
    assert answer.status_code == 400
    assert count(db_url) == 0


def test_jenkins_and_generic_events_are_stored_once(
    api: ApiProcess, db_url: str, tokens: dict[str, str]
) -> None:
    started = fixture("jenkins_started")
    path = "/api/webhooks/jenkins"
    answer = api.request("POST", path, content=started, params={"token": JENKINS})
    assert answer.json() == {"accepted": 1, "duplicate": 0}
    answer = api.request("POST", path, tokens["ingest"], content=started)
    assert answer.json() == {"accepted": 0, "duplicate": 1}
    assert api.request("POST", path, content=started, params={"token": "nope"}).status_code == 401
    answer = api.request(
        "POST", path, content=fixture("jenkins_finalized"), params={"token": JENKINS}
    )
    assert answer.json()["ignored"] == "phase FINALIZED"
    assert JENKINS not in api.log_text()  # the query is never logged
    event = {"kind": "measurement", "occurred_at": "2026-11-22T10:00:00Z", "payload": {"t": 81.2}}
    generic = "/api/webhooks/generic"
    params = {"source": "plc", "stream": "plant/line-1"}
    answer = api.request("POST", generic, tokens["ingest"], json=event, params=params)
    assert answer.json() == {"accepted": 1, "duplicate": 0}
    other = {**event, "payload": {"t": 90.0}}
    answer = api.request("POST", generic, tokens["ingest"], json=[event, other], params=params)
    assert answer.json() == {"accepted": 1, "duplicate": 1}  # a derived external id
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT source, stream, kind FROM event ORDER BY id").fetchall()
    assert rows == [
        ("jenkins", "ci/jenkins/asgard", "run_started"),
        ("plc", "plant/line-1", "measurement"),
        ("plc", "plant/line-1", "measurement"),
    ]


# ---- a delivery becomes a finding --------------------------------------------------


def test_a_failed_github_run_becomes_a_finding_the_run_s_anomalies_return(
    api: ApiProcess, db_url: str, tmp_path: Path, tokens: dict[str, str]
) -> None:
    body = fixture("workflow_run_completed")
    api.request(
        "POST", "/api/webhooks/github", content=body, headers=signed(body, "workflow_run", "d-1")
    ).raise_for_status()
    pack = tmp_path / "ci.yaml"
    pack.write_text(PACK)
    env = {"SENTINEL_DATABASE_URL": db_url, "SENTINEL_RULES_PATH": str(pack)}
    done = sentinel("run-once", env=env)
    assert done.returncode == 0, done.stderr
    read = tokens["read"]

    runs = api.request("GET", "/api/runs", read, params={"stream": "ci/*"}).json()
    [run] = [r for r in runs["items"] if r["detection_count"]]
    assert run["stream"] == "ci/octo-org/octo-repo/Build" and run["status"] == "succeeded"
    assert still(api.request("GET", f"/api/runs/{run['id']}", read).json()) == still(run)
    anomalies = api.request("GET", f"/api/runs/{run['id']}/anomalies", read).json()
    [finding] = anomalies["items"]
    assert anomalies["next"] is None
    assert finding["rule"] == "ci.run_failed" and finding["run_id"] == run["id"]
    assert finding["evidence"], "the detection comes with its evidence"
    assert "30433642" in finding["recommendation_text"]
    assert (
        "https://github.com/octo-org/octo-repo/actions/runs/30433642"
        in (finding["recommendation_text"])
    )
    detail = api.request("GET", f"/api/detections/{finding['id']}", read).json()
    assert still(detail) == still(finding)
    assert api.request("GET", "/api/runs/999999/anomalies", read).status_code == 404

    # The CLI's --json and the API show the same rows.
    cli = json.loads(sentinel("runs", "list", "--json", env=env).stdout)
    api_runs = api.request("GET", "/api/runs", read).json()["items"]
    keys = ("id", "stream", "status", "event_count", "detection_count", "created", "finished_at")
    assert [{k: r[k] for k in keys} for r in cli] == [{k: r[k] for k in keys} for r in api_runs]
    cli_recs = json.loads(sentinel("recommendations", "list", "--json", env=env).stdout)
    [rec] = api.request("GET", "/api/recommendations", read).json()["items"]
    assert [still(r) for r in cli_recs] == [still(rec)]

    # A person's review, with the token's name as the actor.
    write = tokens["write"]
    path = f"/api/recommendations/{rec['id']}"
    answer = api.request("POST", f"{path}/acknowledge", write, json={"comment": "on it"})
    assert answer.json() == {"id": rec["id"], "status": "acknowledged", "changed": True}
    answer = api.request("POST", f"{path}/dismiss", write)
    assert answer.json()["status"] == "dismissed"
    refused = api.request("POST", f"{path}/acknowledge", write)
    assert refused.status_code == 409 and "dismissed" in refused.json()["error"]
    assert api.request("POST", "/api/recommendations/999999/dismiss", write).status_code == 404
    journal = api.request("GET", f"{path}/history", read).json()["items"]
    assert [(j["actor"], j["to_state"], j["comment"]) for j in journal[1:]] == [
        ("t-write", "done", "on it"),  # a condition finding is momentary: cleared
        ("t-write", "dismissed", None),
    ]

    stats = api.request("GET", "/api/stats", read).json()
    assert stats["runs"]["succeeded"] >= 1 and stats["queue_depth"] == 0
    assert stats["workers"] == {"inactive": 1}  # run-once deregistered
    assert stats["events_last_minute"] == 1
    [worker] = api.request("GET", "/api/workers", read).json()["items"]
    assert worker["status"] == "inactive"
    streams = api.request("GET", "/api/streams", read, params={"stream": "ci/*"}).json()
    assert [s["key"] for s in streams["items"]] == ["ci/octo-org/octo-repo/Build"]


# ---- operator actions ---------------------------------------------------------------


def test_retry_and_recheck_refuse_what_the_cli_refuses(
    api: ApiProcess, db_url: str, tokens: dict[str, str]
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stream (key) VALUES ('plant/a')")
        [(dead,)] = conn.execute(
            "INSERT INTO run (stream_id, window_start, status, attempts) "
            "SELECT id, now(), 'dead', 5 FROM stream RETURNING id"
        ).fetchall()
        conn.execute(
            "INSERT INTO event (source, stream, occurred_at, external_id) "
            "VALUES ('t', 'plant/a', '2026-11-22T09:00:00Z', 'e1')"
        )
    write = tokens["write"]
    answer = api.request("POST", f"/api/runs/{dead}/retry", write)
    assert answer.status_code == 200 and answer.json() == {"id": dead, "status": "queued"}
    again = api.request("POST", f"/api/runs/{dead}/retry", write)
    assert again.status_code == 409 and again.json() == {"error": f"run {dead} is already queued"}
    assert api.request("POST", "/api/runs/999999/retry", write).status_code == 404
    since = {"since": "2026-11-22T10:00:00Z"}
    answer = api.request("POST", "/api/streams/plant/a/recheck", write, json=since)
    assert answer.status_code == 200 and answer.json()["events"] == 1
    assert answer.json()["stream"] == "plant/a"
    missing = api.request("POST", "/api/streams/plant/zz/recheck", write, json=since)
    assert missing.status_code == 404 and missing.json() == {"error": "no stream plant/zz"}
    bad = api.request("POST", "/api/streams/plant/a/recheck", write, json={"since": "soon"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("since:")
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT replay_since IS NOT NULL FROM stream").fetchone()
    assert row == (True,)


# ---- pages ----------------------------------------------------------------------------


def test_pages_are_stable_while_runs_are_inserted(
    api: ApiProcess, db_url: str, tokens: dict[str, str]
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stream (key) VALUES ('plant/a'), ('plant/b')")
        conn.execute(
            "INSERT INTO run (stream_id, window_start, status, event_count) "
            "SELECT 1 + g % 2, '2026-01-01'::timestamptz + make_interval(mins => g), "
            "'succeeded', 1 FROM generate_series(1, 230) g"
        )
        [(before,)] = conn.execute("SELECT array_agg(id ORDER BY id DESC) FROM run").fetchall()
    stop = threading.Event()

    def insert() -> None:  # new runs all the while, newer than any page
        window = 0
        with psycopg.connect(db_url, autocommit=True) as conn:
            while not stop.is_set() and window < 2000:
                window += 1
                conn.execute(
                    "INSERT INTO run (stream_id, window_start, status) VALUES "
                    "(1, '2030-01-01'::timestamptz + make_interval(mins => %s), 'succeeded')",
                    [window],
                )

    inserter = threading.Thread(target=insert, daemon=True)
    inserter.start()
    every: list[int] = []
    cursor = None
    try:
        for _ in range(80):
            params: dict[str, Any] = {"limit": 50}
            if cursor:
                params["cursor"] = cursor
            answer = api.request("GET", "/api/runs", tokens["read"], params=params).json()
            every += [r["id"] for r in answer["items"]]
            cursor = answer["next"]
            if cursor is None:
                break
    finally:
        stop.set()
        inserter.join(timeout=10)
    # Runs inserted before the first page may come first; every run that was
    # there before comes exactly once, in order: an offset page would have
    # shifted under the inserts and shown some twice.
    assert cursor is None and len(every) == len(set(every))
    seen = [i for i in every if i <= before[0]]
    assert seen == before, "every run once, newest first, whatever was inserted meanwhile"
    assert count(db_url, "SELECT count(*) FROM run") > len(before)

    status = api.request("GET", "/api/runs", tokens["read"], params={"status": "dead"}).json()
    assert status == {"items": [], "next": None}
    bad = api.request("GET", "/api/runs", tokens["read"], params={"cursor": "garbage"})
    assert bad.status_code == 400 and "invalid cursor" in bad.json()["error"]
    foreign = api.request("GET", "/api/streams", tokens["read"], params={"limit": 1}).json()
    assert [s["key"] for s in foreign["items"]] == ["plant/a"]
    wrong = api.request("GET", "/api/runs", tokens["read"], params={"cursor": foreign["next"]})
    assert wrong.status_code == 400 and "not a cursor of runs" in wrong.json()["error"]
    rest = api.request(
        "GET", "/api/streams", tokens["read"], params={"limit": 1, "cursor": foreign["next"]}
    ).json()
    assert [s["key"] for s in rest["items"]] == ["plant/b"] and rest["next"] is None


def test_recommendation_pages_walk_every_one_once(
    api: ApiProcess, db_url: str, tokens: dict[str, str]
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO detection (rule_ref, stream, kind, severity, summary, fingerprint, "
            "first_seen, last_seen) SELECT 'r', 'plant/a', 'condition', 'warning', 's', "
            "'fp' || g, now(), now() FROM generate_series(1, 45) g"
        )
        # equal creation times: the id breaks the tie
        conn.execute(
            "INSERT INTO recommendation (detection_id, stream, severity, text, created) "
            "SELECT id, stream, severity, 't', '2026-11-22T10:00:00Z'::timestamptz "
            "+ make_interval(mins => (id / 10)::int) FROM detection"
        )
        [(expected,)] = conn.execute(
            "SELECT array_agg(id ORDER BY created DESC, id DESC) FROM recommendation"
        ).fetchall()
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        answer = api.request("GET", "/api/recommendations", tokens["read"], params=params).json()
        seen += [r["id"] for r in answer["items"]]
        if answer["next"] is None:
            break
        params["cursor"] = answer["next"]
    assert seen == expected


def test_reads_go_to_the_read_database_when_one_is_set(
    db_url: str, other_db_url: str, tmp_path: Path
) -> None:
    """SENTINEL_READ_DATABASE_URL: the read model reads the replica (here a
    second database, to tell them apart), tokens and writes the primary."""
    with psycopg.connect(other_db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stream (key) VALUES ('only/on-the-replica')")
    read = token(db_url, "reader", "read")
    process = ApiProcess(db_url, tmp_path, SENTINEL_READ_DATABASE_URL=other_db_url)
    try:
        items = process.request("GET", "/api/streams", read).json()["items"]
        assert [s["key"] for s in items] == ["only/on-the-replica"]
    finally:
        process.stop()
