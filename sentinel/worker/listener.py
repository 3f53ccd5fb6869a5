"""LISTEN for newly planned or requeued runs: a hint to claim now. The worker
polls anyway, so a dead listener costs latency, never work; it is noticed and
reopened (`sentinel.db.listen.ListenThread` does the LISTEN and reconnect)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sentinel.db.listen import ListenThread
from sentinel.types import Channel


class Listener(ListenThread):
    """The worker's listener: `sentinel_run`, waking the claim loop."""

    def __init__(
        self,
        url: str,
        on_notify: Callable[[], None],
        channels: Iterable[Channel] = (Channel.RUN,),
    ) -> None:
        super().__init__(
            url,
            on_notify,
            channels,
            name="listener",
            application_name="sentinel-worker-listen",
            max_backoff=10.0,
            poll=1.0,
        )
