"""When the dashboard refreshes: one small object owns the schedule.

A refresh starts now, or right after the one in flight, never two at once
(dolphie's way: the next one is armed only when the last one finished). The
next is armed `interval` seconds after a refresh ends (at most 2 s after a
failed one, which is retried even when paused); a burst of NOTIFYs refreshes
at most every MIN_GAP seconds. The app gives it `start` (begin a fetch) and
its timer; nothing here touches a widget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MIN_GAP = 0.3  # seconds between refreshes a burst of NOTIFYs may cause
RETRY_AFTER = 2.0  # at most, after a failed refresh


class Timer(Protocol):
    def stop(self) -> None: ...


SetTimer = Callable[[float, Callable[[], None]], Timer]


class Schedule:
    def __init__(
        self,
        start: Callable[[], None],
        set_timer: SetTimer,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = start
        self._set_timer = set_timer
        self._clock = clock
        self.interval = interval
        self.paused = False
        self.fetching = False
        self._again = False
        self._timer: Timer | None = None
        self._last_done = 0.0

    def request(self) -> None:
        """Refresh now, or right after the refresh in flight."""
        self._disarm()
        if self.fetching:
            self._again = True
            return
        self.fetching = True
        self._start()

    def done(self, *, failed: bool = False) -> None:
        """The refresh in flight finished: arm the next one."""
        self.fetching = False
        self._last_done = self._clock()
        if self._again:
            self._again = False
            self.request()
        elif failed:
            self._arm(min(self.interval, RETRY_AFTER))
        elif not self.paused:
            self._arm(self.interval)

    def notified(self) -> None:
        """Something changed in the database (a NOTIFY)."""
        if self.paused:
            return
        wait = self._last_done + MIN_GAP - self._clock()
        if self.fetching:
            self._again = True
        elif wait > 0:
            self._arm(wait)
        else:
            self.request()

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        if self.paused:
            self._disarm()
        else:
            self.request()
        return self.paused

    def step(self, step: int) -> float:
        """The next slower (+1) or faster (-1) interval of INTERVALS."""
        index = min(range(len(INTERVALS)), key=lambda i: abs(INTERVALS[i] - self.interval))
        self.interval = INTERVALS[max(0, min(len(INTERVALS) - 1, index + step))]
        if not self.fetching and not self.paused:
            self._arm(self.interval)
        return self.interval

    def _arm(self, delay: float) -> None:
        self._disarm()
        self._timer = self._set_timer(delay, self.request)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
