"""What a pass wrote, counted: the findings' side of a run's tallies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    events: int = 0
    detections: int = 0
    evidence: int = 0
    recommendations: int = 0
    problems: int = 0
    severities: tuple[str, ...] = ()  # of the new detections

    def plus(self, other: Counts) -> Counts:
        return Counts(
            events=self.events + other.events,
            detections=self.detections + other.detections,
            evidence=self.evidence + other.evidence,
            recommendations=self.recommendations + other.recommendations,
            problems=self.problems + other.problems,
            severities=self.severities + other.severities,
        )
