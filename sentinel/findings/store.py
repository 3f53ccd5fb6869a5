"""Writes a pass's findings: detections, their evidence, their recommendations.
Runs inside the fenced completion transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.findings.models import Counts
from sentinel.rules.kinds.episode import CLEARED
from sentinel.rules.model import Finding

SQL = queries.beside(__file__)

RECOMMENDATION_CHANNEL = "sentinel_recommendation"


class FindingStore:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def write(self, run_id: int, findings: Sequence[Finding]) -> Counts:
        """Counts of what was new: detections, their evidence, their
        recommendations. A finding whose fingerprint is stored already (an
        open episode reported again, a retry, a replay) updates that
        detection's last_seen, summary and evidence and counts as nothing new."""
        if not findings:
            return Counts()
        row = self.conn.execute(
            SQL["write_findings"],
            {"run_id": run_id, "findings": Jsonb([_as_json(n, f) for n, f in enumerate(findings)])},
        ).fetchone()
        assert row is not None
        severities, evidence, _updated, recommendations = row
        if recommendations:
            self.conn.execute("SELECT pg_notify(%s, '')", [RECOMMENDATION_CHANNEL])
        return Counts(
            detections=len(severities),
            evidence=evidence,
            recommendations=recommendations,
            severities=tuple(severities),
        )


def cleared(finding: Finding) -> bool:
    """Whether the finding's episode has ended: its `episode` evidence says
    cleared (a `flood` finding's evidence: closed, when the stream calmed). A
    finding without either (silence, condition) has no clear condition: it is
    momentary, cleared as it is written."""
    for item in finding.evidence:
        if item.kind == "episode":
            return bool(item.data.get("status") == CLEARED)
        if item.kind == "flood":
            return bool(item.data.get("status") == "closed")
    return True


def _as_json(n: int, finding: Finding) -> dict[str, Any]:
    return {
        "n": n,
        "rule_ref": finding.rule_ref,
        "stream": finding.stream,
        "kind": finding.kind,
        "severity": finding.severity,
        "summary": finding.summary,
        "fingerprint": finding.fingerprint,
        "anchor_event_id": finding.anchor_event_id,
        "first_seen": finding.first_seen.isoformat(),
        "last_seen": finding.last_seen.isoformat(),
        "cleared": cleared(finding),
        "evidence": [
            {"i": i, "kind": item.kind, "event_id": item.event_id, "data": item.data}
            for i, item in enumerate(finding.evidence)
        ],
        "recommendation": finding.recommendation,
    }
