"""Writes a pass's findings: detections, their evidence, their recommendations.
Runs inside the fenced completion transaction."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.rules.model import Finding
from sentinel.worker.models import Counts

SQL = queries.beside(__file__)

RECOMMENDATION_CHANNEL = "sentinel_recommendation"


class FindingStore:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def write(self, run_id: int, findings: Sequence[Finding]) -> Counts:
        """Counts of what was new (seen-before findings write nothing)."""
        evidence = recommendations = 0
        severities: list[str] = []
        with self.conn.cursor() as cur:
            for finding in findings:
                row = cur.execute(
                    SQL["insert_detection"],
                    {
                        "run_id": run_id,
                        "rule_ref": finding.rule_ref,
                        "stream": finding.stream,
                        "kind": finding.kind,
                        "severity": finding.severity,
                        "summary": finding.summary,
                        "fingerprint": finding.fingerprint,
                        "anchor_event_id": finding.anchor_event_id,
                        "first_seen": finding.first_seen,
                        "last_seen": finding.last_seen,
                    },
                ).fetchone()
                if row is None:
                    continue  # seen before: a retry, a replay, or a racing pass
                detection_id = row[0]
                severities.append(finding.severity)
                if finding.evidence:
                    cur.executemany(
                        SQL["insert_evidence"],
                        [
                            {
                                "detection_id": detection_id,
                                "kind": item.kind,
                                "event_id": item.event_id,
                                "data": Jsonb(item.data),
                            }
                            for item in finding.evidence
                        ],
                    )
                    evidence += len(finding.evidence)
                cur.execute(
                    SQL["insert_recommendation"],
                    {
                        "detection_id": detection_id,
                        "severity": finding.severity,
                        "text": finding.recommendation,
                    },
                )
                recommendations += 1
            if recommendations:
                cur.execute("SELECT pg_notify(%s, '')", [RECOMMENDATION_CHANNEL])
        return Counts(
            detections=len(severities),
            evidence=evidence,
            recommendations=recommendations,
            severities=tuple(severities),
        )
