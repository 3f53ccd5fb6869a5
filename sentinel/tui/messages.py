"""Messages the thread workers post; handlers on the UI thread render them."""

from __future__ import annotations

from textual.message import Message

from sentinel.findings.review import Reviewed as ReviewResult
from sentinel.tui.source import Detail, Snapshot


class Refreshed(Message):
    """A snapshot arrived."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class RefreshFailed(Message):
    """A refresh failed; `unreachable` when the database is gone."""

    def __init__(self, error: str, *, unreachable: bool) -> None:
        super().__init__()
        self.error = error
        self.unreachable = unreachable


class Notified(Message):
    """A NOTIFY on sentinel_run or sentinel_recommendation (or the listener
    reconnected and may have missed some)."""


class DetailLoaded(Message):
    def __init__(self, detection_id: int, detail: Detail | None) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.detail = detail


class DetailFailed(Message):
    def __init__(self, detection_id: int, error: str) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.error = error


class Reviewed(Message):
    def __init__(self, result: ReviewResult, verb: str) -> None:
        super().__init__()
        self.result = result
        self.verb = verb


class ReviewFailed(Message):
    def __init__(self, recommendation_id: int, error: str) -> None:
        super().__init__()
        self.recommendation_id = recommendation_id
        self.error = error
