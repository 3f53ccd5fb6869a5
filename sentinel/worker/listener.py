"""LISTEN for newly planned or requeued runs: a hint to claim now. The worker
polls anyway, so a dead listener costs latency, never work; it is noticed and
reopened."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from sentinel.errors import SentinelError
from sentinel.worker.store import RUN_CHANNEL

log = logging.getLogger(__name__)


class Listener(threading.Thread):
    def __init__(
        self, url: str, on_notify: Callable[[], None], channels: tuple[str, ...] = (RUN_CHANNEL,)
    ) -> None:
        super().__init__(name="listener", daemon=True)
        self.url = url
        self.on_notify = on_notify
        self.channels = channels
        self.stop_event = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        backoff = 0.5
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    for channel in self.channels:
                        conn.execute(
                            psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel))
                        )
                    backoff = 0.5
                    self.on_notify()  # we may have missed some while away
                    while not self.stop_event.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.on_notify()
            except (psycopg.Error, SentinelError, OSError) as exc:
                log.debug("listener reconnecting", extra={"error": str(exc)})
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
