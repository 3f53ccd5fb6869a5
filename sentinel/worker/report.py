"""What a finished pass tells the metrics and the log."""

from __future__ import annotations

import logging
from typing import assert_never

from sentinel import metrics
from sentinel.worker.models import Claim, Completed, CursorMoved, Failed, LeaseLost, Outcome

log = logging.getLogger(__name__)


def report(outcome: Outcome, claim: Claim, elapsed: float) -> None:
    metrics.PASS_SECONDS.observe(elapsed)
    extra: dict[str, object] = {"run_id": claim.id, "stream": claim.stream}
    if isinstance(outcome, Completed):
        c = outcome.counts
        metrics.RUNS_FINISHED.labels("succeeded").inc()
        metrics.EVENTS_PROCESSED.inc(c.events)
        metrics.RECOMMENDATIONS.inc(c.recommendations)
        for severity in c.severities:
            metrics.DETECTIONS.labels(severity).inc()
        log.info(
            "run completed",
            extra={
                **extra,
                "action": "run_complete",
                "events": c.events,
                "detections": c.detections,
                "evidence": c.evidence,
                "recommendations": c.recommendations,
                "problems": c.problems,
                "duration": round(elapsed, 3),
            },
        )
    elif isinstance(outcome, LeaseLost):
        metrics.LEASE_LOSSES.inc()
        log.warning("run lease lost; nothing written", extra={**extra, "action": "lease_lost"})
    elif isinstance(outcome, CursorMoved):
        log.info(
            "replays kept moving the cursor; run given back",
            extra={**extra, "action": "cursor_moved"},
        )
    elif isinstance(outcome, Failed):
        if outcome.status is not None:
            metrics.RUNS_FINISHED.labels("dead" if outcome.status == "dead" else "failed").inc()
    else:
        assert_never(outcome)
