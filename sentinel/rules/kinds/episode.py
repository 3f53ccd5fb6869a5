"""The episode: one finding while it lasts, the machinery the kinds with a
clear condition share (threshold, spc, rate, flatline, count)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sentinel.rules.kinds._base import PassContext, from_iso, iso, point, round_sig
from sentinel.rules.model import Event, EvidenceItem

if TYPE_CHECKING:
    from sentinel.rules.rule import Rule

OPEN, CLEARED = "open", "cleared"


class Episode:
    """One finding while it lasts: it opens at the first violation (its
    anchor: the fingerprint), every further violation updates it (last_seen,
    peak, points beyond, rules fired), and the kind closes it on its clear
    condition. Kept in the rule's state (`dump`/`load`), so a later pass, a
    retry or a replay reports the same detection again with newer evidence,
    never a second one. `calm` counts the points back to normal since the
    last violation (and when that began), for the kinds' clear conditions.

    A kind reports an episode once per pass at most (`report`): when it
    closes, or at the end of a pass that saw points while it was open. The
    recommendation is rendered once, at the opening, and kept, so every
    report of the episode carries the same text.
    """

    __slots__ = (
        "anchor",
        "calm",
        "calm_since",
        "first_seen",
        "kind",
        "last_seen",
        "peak",
        "points",
        "recommendation",
        "rules",
        "seen",
        "trigger",
    )

    def __init__(
        self,
        kind: str,
        anchor: int,
        first_seen: datetime,
        trigger: dict[str, Any],
        recommendation: str,
    ) -> None:
        self.kind = kind
        self.anchor = anchor
        self.first_seen = first_seen
        self.last_seen = first_seen
        self.trigger = trigger
        self.recommendation = recommendation
        self.points = 0
        self.peak: dict[str, Any] | None = None
        self.rules: list[str] = []
        self.calm = 0
        self.calm_since: datetime | None = None
        self.seen = True  # points seen in this pass while open: report at its end

    @classmethod
    def load(cls, saved: Mapping[str, Any] | None) -> Episode | None:
        if not saved:
            return None
        ep = cls.__new__(cls)
        ep.kind = saved["kind"]
        ep.anchor = saved["anchor"]
        ep.first_seen = from_iso(saved["first_seen"])
        ep.last_seen = from_iso(saved["last_seen"])
        ep.trigger = saved["trigger"]
        ep.recommendation = saved["recommendation"]
        ep.points = saved["points"]
        ep.peak = saved["peak"]
        ep.rules = list(saved["rules"])
        ep.calm = saved["calm"]
        ep.calm_since = from_iso(saved["calm_since"]) if saved["calm_since"] else None
        ep.seen = False
        return ep

    def dump(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "anchor": self.anchor,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "trigger": self.trigger,
            "recommendation": self.recommendation,
            "points": self.points,
            "peak": self.peak,
            "rules": self.rules,
            "calm": self.calm,
            "calm_since": iso(self.calm_since) if self.calm_since else None,
        }

    def hit(
        self, event: Event, value: Any, score: float, rules: Sequence[str] = (), **extra: Any
    ) -> None:
        """A violating point: the episode goes on. The peak is the point with
        the highest `score` (the kind's measure of how far beyond)."""
        self.seen = True
        self.last_seen = max(self.last_seen, event.occurred_at)
        self.points += 1
        if self.peak is None or score > self.peak["score"]:
            self.peak = {**point(event, value, **extra), "score": round_sig(score)}
        for name in rules:
            if name not in self.rules:
                self.rules.append(name)
        self.calm, self.calm_since = 0, None

    def quiet(self, event: Event) -> None:
        """A point back to normal (the kind's sense): counted towards clearing."""
        self.seen = True
        self.calm += 1
        if self.calm_since is None:
            self.calm_since = event.occurred_at

    def unsettled(self) -> None:
        """A point neither violating nor normal (inside a hysteresis band):
        the episode goes on and the count back to normal starts again."""
        self.seen = True
        self.calm, self.calm_since = 0, None

    def calm_for(self, event: Event) -> float:
        """Seconds since the stream came back to normal (0 if it is not)."""
        if self.calm_since is None:
            return 0.0
        return (event.occurred_at - self.calm_since).total_seconds()

    def report(
        self,
        rule: Rule,
        ctx: PassContext,
        *,
        status: str,
        summary: str,
        evidence: list[EvidenceItem],
        values: Mapping[str, Any],
        cleared_at: datetime | None = None,
    ) -> None:
        episode = {
            "status": status,
            "start": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "points_beyond": self.points,
            "peak": self.peak,
            "rules": self.rules,
            "cleared_at": iso(cleared_at) if cleared_at else None,
        }
        ctx.find(
            rule,
            kind=self.kind,
            anchor=self.anchor,
            anchor_event_id=self.anchor,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            summary=summary if status == OPEN else f"{summary} (cleared)",
            evidence=[
                EvidenceItem("trigger", self.anchor, self.trigger),
                EvidenceItem("episode", self.anchor, episode),
                *evidence,
            ],
            values=values,
            recommendation=self.recommendation,
        )
        self.seen = False
