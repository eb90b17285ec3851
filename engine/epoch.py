"""Epoch seconds of aware datetimes, the time math shared by the engine and the simulator (which imports only
plain data and math from the engine)."""

from __future__ import annotations

from datetime import datetime

_last_epoch: tuple[datetime | None, float] = (None, 0.0)


def epoch(t: datetime) -> float:
    """`t.timestamp()`, remembered for the last datetime asked: a simulated step's components all ask it of the
    same `now` (the clock hands out one object until it moves), and an aware datetime's timestamp() is slow.
    One tuple, swapped whole, so threads asking at once never see one time's epoch paired with another's."""
    global _last_epoch
    last = _last_epoch
    if last[0] is t:
        return last[1]
    e = t.timestamp()
    _last_epoch = (t, e)
    return e
