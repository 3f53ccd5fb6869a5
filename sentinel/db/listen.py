"""One LISTEN connection with reconnect, for whoever wants a hint to look again
(the worker's claim loop, the dashboard's refresh).

A NOTIFY is only a hint: a listener that is down costs latency, never work,
because every user polls anyway. So the thread calls `on_notify` once after
each (re)connect too — notifications sent while it was away are lost — and
reconnects with a backoff that doubles up to a cap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import psycopg
from psycopg import sql

from sentinel.db.connect import CONNECT_TIMEOUT
from sentinel.types import Channel

log = logging.getLogger(__name__)


class ListenThread(threading.Thread):
    """LISTENs on `channels`; calls `on_notify()` for each notification and
    once after each (re)connect; `stop()` ends it within `poll` seconds."""

    def __init__(
        self,
        url: str,
        on_notify: Callable[[], None],
        channels: Iterable[Channel],
        *,
        name: str = "listener",
        application_name: str = "sentinel-listen",
        first_backoff: float = 0.5,
        max_backoff: float = 10.0,
        poll: float = 0.5,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.url = url
        self.on_notify = on_notify
        self.channels = tuple(Channel(c) for c in channels)
        self.application_name = application_name
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.poll = poll
        self.stop_event = threading.Event()
        self.connects = 0  # (re)connects whose catch-up call is done, for tests

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        backoff = self.first_backoff
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT,
                    application_name=self.application_name,
                ) as conn:
                    for channel in self.channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel.value)))
                    backoff = self.first_backoff
                    self.reconnected()
                    self.connects += 1
                    while not self.stop_event.is_set():
                        for notify in conn.notifies(timeout=self.poll):
                            self.received(notify)
            except (psycopg.Error, OSError) as exc:
                log.debug("listener reconnecting", extra={"error": str(exc)})
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def received(self, notify: psycopg.Notify) -> None:
        """One notification (a subclass may read its channel and payload)."""
        self.on_notify()

    def reconnected(self) -> None:
        """After each (re)connect: we may have missed some while away."""
        self.on_notify()
