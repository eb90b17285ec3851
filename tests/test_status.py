"""The status line while a condor is open, and the progress of long work."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from engine.book import Book, Spread
from engine.calendar import ET
from engine.models import Intent, Leg, OptionQuote, Side
from engine.progress import Progress
from engine.status import StatusLine

T0 = datetime(2025, 7, 1, 10, 0, tzinfo=ET)
HARD_EXIT = datetime(2025, 7, 1, 15, 15, tzinfo=ET)
SYMS = ("SPY250701P00590000", "SPY250701P00595000", "SPY250701C00605000", "SPY250701C00610000")


def book() -> Book:
    sides = (Side.BUY, Side.SELL, Side.SELL, Side.BUY)
    legs = tuple(Leg(s, side, Intent.BUY_TO_OPEN if side is Side.BUY else Intent.SELL_TO_OPEN)
                 for s, side in zip(SYMS, sides, strict=True))
    b = Book()
    b.open.append(Spread(1, "short", legs, (590.0, 595.0, 605.0, 610.0), 5.0, 1, -0.80, T0, "zdte-20250701-01o-00"))
    return b


MARKS = {s: OptionQuote(s, m - 0.01, m + 0.01, T0) for s, m in zip(SYMS, (0.05, 0.30, 0.25, 0.05), strict=True)}


def test_the_line_says_mark_pnl_distances_and_time_left() -> None:
    line = StatusLine(300).line(T0, 601.25, book(), MARKS, HARD_EXIT)
    # liability 0.30 + 0.25 - 0.05 - 0.05 = 0.45 to buy back; P&L (0.80 - 0.45) x 100
    assert "spot 601.25" in line
    assert "closes for debit 0.45, P&L +35.00 at mid" in line
    assert "short put 595, short call 605 (+6.25 / +3.75 away)" in line
    assert line.endswith("hard exit in 5h15m")


def test_shown_every_interval_of_market_time_only_while_open(mocker) -> None:
    info = mocker.patch("engine.status.logger.info")
    status, b = StatusLine(300), book()
    for minute in range(0, 16):
        status.maybe_show(T0 + timedelta(minutes=minute), 600.0, b, MARKS, HARD_EXIT)
    assert info.call_count == 4, "at 10:00, 10:05, 10:10 and 10:15"
    status.maybe_show(T0 + timedelta(minutes=30), 600.0, Book(), MARKS, HARD_EXIT)
    assert info.call_count == 4, "nothing open: nothing said"
    StatusLine(0).maybe_show(T0, 600.0, b, MARKS, HARD_EXIT)
    assert info.call_count == 4, "interval 0 turns it off"


def test_progress_off_a_terminal_is_plain_lines_every_five_percent() -> None:
    out = io.StringIO()
    p = Progress(40, "sessions", stream=out, bar=False)
    for i in range(40):
        p.step(f"day {i + 1}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 20 and lines[0] == "2/40 sessions (5%)  day 2" and lines[-1] == "40/40 sessions (100%)  day 40"


def test_progress_on_a_terminal_is_a_bar() -> None:
    out = io.StringIO()
    p = Progress(3, "journals", stream=out, bar=True)
    for _ in range(3):
        p.step()
    p.close()
    assert "3/3" in out.getvalue() and "\r" in out.getvalue()
