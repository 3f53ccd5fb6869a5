"""LISTEN for hints to act now: runs planned or requeued (claim), and streams
given new events (plan them). The worker polls and sweeps anyway, so a dead
listener costs latency, never work; it is noticed and reopened
(`sentinel.db.listen.ListenThread` does the LISTEN and reconnect)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import psycopg

from sentinel.db import announce
from sentinel.db.listen import ListenThread
from sentinel.types import Channel

# Streams announced: their keys, or None for "look at every stream" (an
# announcement that names none, or a reconnect after which some may be lost).
OnStreams = Callable[[list[str] | None], None]


class Listener(ListenThread):
    """The worker's listener: `sentinel_run` wakes the claim loop; with
    `on_streams`, `sentinel_stream` also hands the announced streams to the
    planner (then the loop is woken to plan them)."""

    def __init__(
        self,
        url: str,
        on_notify: Callable[[], None],
        channels: Iterable[Channel] = (Channel.RUN,),
        *,
        on_streams: OnStreams | None = None,
    ) -> None:
        channels = tuple(channels)
        if on_streams is not None and Channel.STREAM not in channels:
            channels = (*channels, Channel.STREAM)
        super().__init__(
            url,
            on_notify,
            channels,
            name="listener",
            application_name="sentinel-worker-listen",
            max_backoff=10.0,
            poll=1.0,
        )
        self.on_streams = on_streams

    def received(self, notify: psycopg.Notify) -> None:
        if self.on_streams is not None and notify.channel == Channel.STREAM.value:
            self.on_streams(announce.keys(notify.payload))
        self.on_notify()

    def reconnected(self) -> None:
        if self.on_streams is not None:
            self.on_streams(None)  # announcements sent while away are lost
        self.on_notify()
