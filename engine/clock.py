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

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._now = self._now + timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Jump forward (never back) to `when`, e.g. to the next session's pre-open."""
        if when > self._now:
            self._now = when


class WallClock:
    """Real time, for paper trading against Alpaca; the only place the engine may read the wall clock.

    A sleep can be cut short by `wake()` (a signal handler calls it), so a stop request is acted on at
    once even in the middle of an hour-long wait for the open.
    """

    def __init__(self) -> None:
        self._wake = threading.Event()

    def now(self) -> datetime:
        """New York's time, the engine's one zone: what the console, the logs and the journal show."""
        return datetime.now(ET)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._wake.wait(seconds)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()
