"""The pure parts of bench/anchor_nautilus.py, and its Nautilus side on one full and one half day.

The expected sessions and bars come from ../shared/data/SOURCES.md (the file's own description), not from the
bench; the Nautilus side is run only when nautilus-trader is installed (the `nautilus` extra, not CI's).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from engine.calendar import ExchangeCalendar
from tests.bench_scripts import load_bench

an = load_bench("anchor_nautilus")
needs_data = pytest.mark.skipif(not an.SPY_CSV.is_file(), reason=f"../shared data absent: {an.SPY_CSV} is missing")
JULY_2025 = [date(2025, 7, d) for d in (1, 2, 3, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22, 23, 24, 25, 28, 29, 30)]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(an.SPY_CSV)


@needs_data
def test_the_days_are_the_21_july_2025_sessions_of_the_file():
    assert an.sessions_in_month(an.SPY_CSV, 2025, 7, ExchangeCalendar()) == JULY_2025


@needs_data
def test_a_month_the_file_does_not_cover_has_no_day():
    assert an.sessions_in_month(an.SPY_CSV, 2025, 6, ExchangeCalendar()) == []


@needs_data
def test_a_full_day_keeps_its_390_regular_bars_stamped_at_their_close(frame):
    bars = an.regular_bars(frame, ExchangeCalendar().session(date(2025, 7, 1)))
    assert len(bars) == 390
    assert bars.index[0] == pd.Timestamp("2025-07-01 13:31", tz="UTC")  # the 09:30 ET bar ends 09:31 ET (EDT)
    assert bars.index[-1] == pd.Timestamp("2025-07-01 20:00", tz="UTC")
    assert bars.iloc[0].tolist() == [616.36, 616.74, 616.255, 616.59, 565847.0]


@needs_data
def test_the_early_close_ends_the_day_at_13_00(frame):
    bars = an.regular_bars(frame, ExchangeCalendar().session(date(2025, 7, 3)))
    assert len(bars) == 210
    assert bars.index[-1] == pd.Timestamp("2025-07-03 17:00", tz="UTC")


@pytest.mark.parametrize(
    ("seen", "fast", "slow", "side"),
    [(29, 2.0, 1.0, None), (30, 2.0, 1.0, "BUY"), (30, 1.0, 2.0, "SELL"), (60, 1.5, 1.5, "BUY"), (0, 2.0, 1.0, None)],
)
def test_an_order_only_on_every_30th_bar_in_the_direction_of_the_cross(seen, fast, slow, side):
    assert an.cross_side(seen, fast, slow) == side


@needs_data
@pytest.mark.parametrize(("day", "orders"), [(date(2025, 7, 1), 13), (date(2025, 7, 3), 7)])
def test_nautilus_sends_and_fills_an_order_every_30_bars(frame, day, orders):
    pytest.importorskip("nautilus_trader", reason="nautilus-trader not installed (pip install -e '.[nautilus]')")
    make_bars, run = an._nautilus()
    _, sent, filled = run(make_bars(an.regular_bars(frame, ExchangeCalendar().session(day))))
    assert (sent, filled) == (orders, orders)


def test_the_paired_ratio_is_the_median_of_each_days_pair_so_a_burst_on_one_day_does_not_move_it():
    # day 2 ran under a burst of load on both sides; day 3's Nautilus run alone was slow
    ours, theirs = [3.0, 30.0, 3.0], [1.0, 10.0, 6.0]
    assert an.paired_ratio(ours, theirs) == 3.0  # pairs 3, 3 and 0.5, where the medians' ratio is 3 / 6


def test_the_paired_ratio_needs_as_many_runs_on_each_side():
    with pytest.raises(ValueError, match="3 against 2"):
        an.paired_ratio([1.0, 2.0, 3.0], [1.0, 2.0])
