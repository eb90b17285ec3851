"""The console's status line while a position is open: how the condor stands, every `interval_s` of market time.

Between a fill at 10:00 and an exit hours later nothing else is said; this line says spot, each condor's
mark and unrealized P&L at mid, how far spot is from each short strike, and the time to the hard exit.
"""

from __future__ import annotations

from datetime import datetime

from loguru import logger

from engine.book import Book
from engine.errors import DataError
from engine.models import OptionQuote


class StatusLine:
    def __init__(self, interval_s: float) -> None:
        """`interval_s` 0 turns it off."""
        self.interval_s = interval_s
        self._last: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.interval_s > 0 and (self._last is None or (now - self._last).total_seconds() >= self.interval_s)

    def line(self, now: datetime, spot: float | None, book: Book, marks: dict[str, OptionQuote],
             hard_exit: datetime) -> str:
        parts = [f"spot {spot:.2f}" if spot is not None else "spot unknown"]
        for s in book.open:
            try:
                value = s.value(marks)
                mark = f"closes for {'debit' if value <= 0 else 'credit'} {abs(value):.2f}"
                pnl = f"{s.pnl_at(value):+.2f}"
            except DataError:
                mark, pnl = "unknown", "unknown"
            shorts = f"short put {s.strikes[1]:g}, short call {s.strikes[2]:g}"
            if spot is not None:
                shorts += f" ({spot - s.strikes[1]:+.2f} / {s.strikes[2] - spot:+.2f} away)"
            parts.append(f"trade {s.trade_no} {mark}, P&L {pnl} at mid; {shorts}")
        left = max((hard_exit - now).total_seconds(), 0.0)
        parts.append(f"hard exit in {int(left // 3600)}h{int(left % 3600 // 60):02d}m")
        return "; ".join(parts)

    def maybe_show(self, now: datetime, spot: float | None, book: Book, marks: dict[str, OptionQuote],
                   hard_exit: datetime) -> None:
        if book.open and self.due(now):
            self._last = now
            logger.info(self.line(now, spot, book, marks, hard_exit))

    def reset(self) -> None:
        self._last = None
