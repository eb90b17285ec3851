"""The Clock port's adapters: simulated time that jumps, and wall time for paper trading."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from engine.calendar import ET


class SimClock:
    """Simulated market time: `sleep` advances it instantly, so a whole day runs in well under a second."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float, events: bool = False) -> None:
        """The embedded simulator has no streams: there is never an event to wake for."""
        if seconds > 0:
            self._now = self._now + timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Jump forward (never back) to `when`, e.g. to the next session's pre-open."""
        if when > self._now:
            self._now = when


class WallClock:
    """Real time, for paper trading against Alpaca; the only place the engine may read the wall clock.

    A sleep can be cut short by `wake()` (a signal handler calls it), so a stop request is acted on at
    once even in the middle of an hour-long wait for the open; a sleep that waits for `events` also by
    `news()`, which the stream threads call when they have put something on the feed's queue.
    """

    def __init__(self) -> None:
        self._cv = threading.Condition(threading.RLock())  # reentrant: a signal handler may interrupt a holder
        self._woken = False
        self._news = False

    def now(self) -> datetime:
        """New York's time, the engine's one zone: what the console, the logs and the journal show."""
        return datetime.now(ET)

    def sleep(self, seconds: float, events: bool = False) -> None:
        if seconds <= 0:
            return
        with self._cv:
            self._cv.wait_for(lambda: self._woken or (events and self._news), seconds)
            self._woken = False
            if events:
                self._news = False

    def wake(self) -> None:
        with self._cv:
            self._woken = True
            self._cv.notify_all()

    def news(self) -> None:
        with self._cv:
            self._news = True
            self._cv.notify_all()
