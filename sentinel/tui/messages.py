"""Messages the thread workers post; handlers on the UI thread render them."""

from __future__ import annotations

from datetime import timedelta

from textual.message import Message
from textual.message_pump import MessagePump

from sentinel.tui.source import Snapshot
from sentinel.views.alarms import AlarmReport
from sentinel.views.rows import Detail, JournalRow, ShelfRow


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


class ShelveRequested(Message):
    """A screen asks the app to shelve what a finding's stream and rule match
    (the app asks for the globs, the duration and the reason first)."""

    def __init__(self, stream: str, rule: str | None) -> None:
        super().__init__()
        self.stream = stream
        self.rule = rule


class UnshelveRequested(Message):
    """A screen asks the app to end a shelf (it confirms first)."""

    def __init__(self, shelf_id: int, stream_glob: str) -> None:
        super().__init__()
        self.shelf_id = shelf_id
        self.stream_glob = stream_glob


class ShelvesRequested(Message):
    """A screen wants the live shelves; the answer (ShelvesLoaded or
    ShelvesFailed) is posted to `reply_to`."""

    def __init__(self, reply_to: MessagePump) -> None:
        super().__init__()
        self.reply_to = reply_to


class ShelvesLoaded(Message, bubble=False):
    def __init__(self, shelves: tuple[ShelfRow, ...]) -> None:
        super().__init__()
        self.shelves = shelves


class ShelvesFailed(Message, bubble=False):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


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
