"""Writes a pass's findings: detections, their evidence, their recommendations.
Runs inside the fenced completion transaction, so a new finding enters
shelved or suppressed in the very transaction that writes it, once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.findings import shelves
from sentinel.findings.models import Counts
from sentinel.rules.kinds.episode import CLEARED
from sentinel.rules.model import Finding

SQL = queries.beside(__file__)

RECOMMENDATION_CHANNEL = "sentinel_recommendation"


class FindingStore:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def write(
        self,
        run_id: int,
        findings: Sequence[Finding],
        *,
        suppressors: Mapping[str, Sequence[str]] | None = None,
    ) -> Counts:
        """Counts of what was new: detections, their evidence, their
        recommendations. A finding whose fingerprint is stored already (an
        open episode reported again, a retry, a replay) updates that
        detection's last_seen, summary and evidence and counts as nothing new.
        `suppressors`: rule ref → the refs of the rules that suppress it
        (`Engine.suppressors`); a new finding enters the live shelf that
        matches it (shelves.covering), if any."""
        if not findings:
            return Counts()
        live = shelves.live(self.conn)
        by = suppressors or {}
        rows = []
        for n, finding in enumerate(findings):
            shelf = shelves.covering(live, finding.stream, finding.rule_ref, finding.severity)
            rows.append(
                _as_json(
                    n,
                    finding,
                    shelf_id=None if shelf is None else shelf.id,
                    suppressors=list(by.get(finding.rule_ref, ())),
                )
            )
        row = self.conn.execute(
            SQL["write_findings"], {"run_id": run_id, "findings": Jsonb(rows)}
        ).fetchone()
        assert row is not None
        severities, cleared_ids, evidence, _updated, recommendations = row
        released = 0
        if cleared_ids:
            streams = sorted({f.stream for f in findings})
            got = self.conn.execute(
                SQL["release_suppressed"], {"streams": streams, "cleared": cleared_ids}
            ).fetchone()
            released = int(got[0]) if got else 0
        if recommendations or released:
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


def _as_json(
    n: int, finding: Finding, *, shelf_id: int | None = None, suppressors: list[str] | None = None
) -> dict[str, Any]:
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
        "shelf_id": shelf_id,
        "suppressors": suppressors or [],
    }
