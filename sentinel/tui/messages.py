"""Messages the thread workers post; handlers on the UI thread render them."""

from __future__ import annotations

from datetime import timedelta

from textual.message import Message
from textual.message_pump import MessagePump

from sentinel.tui.source import Snapshot
from sentinel.views.alarms import AlarmReport
from sentinel.views.rows import Detail, JournalRow


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
    def __init__(
        self, detection_id: int, detail: Detail | None, journal: tuple[JournalRow, ...] = ()
    ) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.detail = detail
        self.journal = journal  # its recommendation's, oldest first


class DetailFailed(Message, bubble=False):
    def __init__(self, detection_id: int, error: str) -> None:
        super().__init__()
        self.detection_id = detection_id
        self.error = error


class ReviewRequested(Message):
    """A screen asks the app to acknowledge or dismiss (it asks for a comment
    first)."""

    def __init__(self, recommendation_id: int, verb: str) -> None:
        super().__init__()
        self.recommendation_id = recommendation_id
        self.verb = verb


class Changed(Message, bubble=False):
    """Posted to the screen on top after a write went through."""

    def __init__(self, recommendation_id: int | None = None) -> None:
        super().__init__()
        self.recommendation_id = recommendation_id  # the one reviewed, if any


class Wrote(Message):
    """A write went through: what it did, in words."""

    def __init__(self, said: str, recommendation_id: int | None = None) -> None:
        super().__init__()
        self.said = said
        self.recommendation_id = recommendation_id


class WriteFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class AlarmsRequested(Message):
    """A screen wants the alarm report over `since`; the answer (AlarmsLoaded
    or AlarmsFailed) is posted to `reply_to`."""

    def __init__(self, since: timedelta, reply_to: MessagePump) -> None:
        super().__init__()
        self.since = since
        self.reply_to = reply_to


class AlarmsLoaded(Message, bubble=False):
    def __init__(self, since: timedelta, report: AlarmReport) -> None:
        super().__init__()
        self.since = since
        self.report = report


class AlarmsFailed(Message, bubble=False):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
