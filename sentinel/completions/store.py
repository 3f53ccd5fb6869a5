"""Writes a run's completion record: built from the run as stored, signed
when a key is configured, inside the run's completing transaction, and
announced on the completion channel (the caller owns the transaction, so a
rolled-back completion neither stores nor announces anything)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sentinel.completions import dsse
from sentinel.db import queries
from sentinel.types import Channel

SQL = queries.beside(__file__)

RECORD_TYPE = "sentinel.run-completion/v1"


class CompletionStore:
    def __init__(self, conn: psycopg.Connection, signer: dsse.Signer | None = None) -> None:
        self.conn = conn
        self.signer = signer

    def record(self, run_id: int) -> int | None:
        """Store the completed run's record; its id (None if it has one)."""
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(SQL["run_record"], {"run_id": run_id}).fetchone()
        if row is None:
            return None
        body = payload(row)
        env = self.signer.sign(body) if self.signer else dsse.envelope(body)
        stored = self.conn.execute(
            SQL["insert"],
            {
                "run_id": run_id,
                "stream": row["stream"],
                "fence": row["fence"],
                "envelope": Jsonb(env),
                "signed": self.signer is not None,
                "key_id": self.signer.key_id if self.signer else None,
            },
        ).fetchone()
        if stored is None:
            return None
        self.conn.execute(
            SQL["notify"], {"channel": Channel.COMPLETION.value, "payload": str(run_id)}
        )
        return int(stored[0])

    def record_rows(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store the records of completed runs whose `run_record` rows the
        completing statement returned (`RunStore.complete_many`); how many."""
        if not rows:
            return 0
        records = []
        for row in rows:
            body = payload(row)
            records.append(
                {
                    "run_id": row["run_id"],
                    "stream": row["stream"],
                    "fence": row["fence"],
                    "envelope": self.signer.sign(body) if self.signer else dsse.envelope(body),
                    "signed": self.signer is not None,
                    "key_id": self.signer.key_id if self.signer else None,
                }
            )
        stored = self.conn.execute(
            SQL["insert_many"], {"records": Jsonb(records), "channel": Channel.COMPLETION.value}
        ).fetchall()
        return len(stored)


def payload(row: dict[str, Any]) -> bytes:
    """The record as canonical JSON (sorted keys, UTC times): what is signed."""
    record = {
        "type": RECORD_TYPE,
        "run_id": row["run_id"],
        "stream": row["stream"],
        "window_start": _time(row["window_start"]),
        "event_ids": {"first": row["first_event_id"], "last": row["last_event_id"]},
        "counts": {
            "events": row["event_count"],
            "detections": row["detection_count"],
            "evidence": row["evidence_count"],
            "recommendations": row["recommendation_count"],
            "problems": row["problems"],
        },
        "fingerprints": list(row["fingerprints"]),
        "worker": {"id": row["worker_id"], "name": row["worker"]},
        "fence": row["fence"],
        "attempt": row["attempts"],
        "started_at": _time(row["started_at"]),
        "completed_at": _time(row["finished_at"]),
    }
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
