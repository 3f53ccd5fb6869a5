"""Messages the thread workers post; handlers on the UI thread render them."""

from __future__ import annotations

from textual.message import Message
from textual.message_pump import MessagePump

from sentinel.findings.review import Reviewed as ReviewResult
from sentinel.tui.source import Snapshot
from sentinel.views.rows import Detail


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


class DetailRequested(Message):
    """A screen wants a detection's detail; the answer (DetailLoaded or
    DetailFailed) is posted to `reply_to`."""

    def __init__(self, detection_id: int, reply_to: MessagePump) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.reply_to = reply_to


class DetailLoaded(Message, bubble=False):
    def __init__(self, detection_id: int, detail: Detail | None) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.detail = detail


class DetailFailed(Message, bubble=False):
    def __init__(self, detection_id: int, error: str) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.error = error


class ReviewRequested(Message):
    """A screen asks the app to acknowledge or dismiss (it confirms first)."""

    def __init__(self, recommendation_id: int, verb: str) -> None:
        super().__init__()
        self.recommendation_id = recommendation_id
        self.verb = verb


class RecommendationChanged(Message, bubble=False):
    """Posted to the screen on top after a review went through."""

    def __init__(self, recommendation_id: int) -> None:
        super().__init__()
        self.recommendation_id = recommendation_id


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
