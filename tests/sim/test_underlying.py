"""The simulated underlying: random-walk bars and bars read from a CSV file."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.calendar import ExchangeCalendar
from engine.models import Session
from engine.sim.errors import SimDataError
from engine.sim.underlying import csv_bars, intraday_profile, random_walk_bars

ET = ZoneInfo("America/New_York")
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPY_CSV = SHARED / "data" / "other" / "pratikdkale_rl_trade_execution" / "data" / "SPY_1min.csv"
needs_shared = pytest.mark.skipif(not SPY_CSV.is_file(), reason=f"shared SPY minute data not found at {SPY_CSV}")
HEADER = "date,Open,High,Low,Close,Volume\n"


def test_random_walk_covers_the_regular_session(session: Session) -> None:
    bars = random_walk_bars("SPY", session, 600.0, 0.14, seed=7)
    assert len(bars) == 390 and bars.symbol == "SPY"
    assert bars.ts.dtype == np.int64
    assert bars.ts[0] == int(datetime(2025, 7, 1, 9, 30, tzinfo=ET).timestamp())
    assert (np.diff(bars.ts) == 60).all()
    assert bars.open[0] == 600.0
    assert np.array_equal(bars.open[1:], bars.close[:-1])
    assert (bars.high >= np.maximum(bars.open, bars.close)).all()
    assert (bars.low <= np.minimum(bars.open, bars.close)).all()
    assert (bars.volume > 0).all()


def test_early_close_has_210_bars(calendar: ExchangeCalendar) -> None:
    s = calendar.session(date(2025, 11, 28))
    bars = random_walk_bars("SPY", s, 600.0, 0.14, seed=7)
    assert len(bars) == 210
    assert bars.ts[-1] == int(datetime(2025, 11, 28, 12, 59, tzinfo=ET).timestamp())


def test_random_walk_is_reproducible_per_seed_and_differs_per_day(calendar: ExchangeCalendar) -> None:
    day1, day2 = calendar.session(date(2025, 7, 1)), calendar.session(date(2025, 7, 2))
    a = random_walk_bars("SPY", day1, 600.0, 0.14, seed=7)
    b = random_walk_bars("SPY", day1, 600.0, 0.14, seed=7)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("ts", "open", "high", "low", "close", "volume"))
    other_seed = random_walk_bars("SPY", day1, 600.0, 0.14, seed=8)
    other_day = random_walk_bars("SPY", day2, 600.0, 0.14, seed=7)
    assert not np.array_equal(a.close, other_seed.close)
    assert not np.array_equal(np.diff(np.log(a.close)), np.diff(np.log(other_day.close)))


def _sessions(calendar: ExchangeCalendar, first: date, count: int) -> list[Session]:
    out, day = [], first - timedelta(days=1)
    while len(out) < count:
        out.append(calendar.next_session(day))
        day = out[-1].day
    return out


def test_realized_vol_matches_annual_vol_with_a_u_shaped_day(calendar: ExchangeCalendar) -> None:
    returns = []
    for s in _sessions(calendar, date(2024, 1, 2), 250):
        if (s.close - s.open) == timedelta(hours=6, minutes=30):
            bars = random_walk_bars("SPY", s, 600.0, 0.20, seed=3)
            returns.append(np.diff(np.log(np.concatenate(([bars.open[0]], bars.close)))))
    r = np.array(returns)
    realized = np.sqrt(np.mean(r * r) * 252 * 390)
    assert realized == pytest.approx(0.20, rel=0.02)
    var_by_minute = np.mean(r * r, axis=0)
    midday = var_by_minute[150:240].mean()
    assert var_by_minute[:30].mean() > 2.5 * midday and var_by_minute[-30:].mean() > 2.5 * midday


def test_intraday_profile_has_mean_square_one() -> None:
    for n in (210, 390):
        p = intraday_profile(n)
        assert np.mean(p * p) == pytest.approx(1.0)
        assert p[0] > p[n // 2] < p[-1]


@needs_shared
def test_csv_day_from_the_shared_file() -> None:
    bars = csv_bars(SPY_CSV, "SPY", date(2025, 7, 1))
    with SPY_CSV.open() as f:
        rows = [r for r in csv.DictReader(f) if r["date"].startswith("2025-07-01 ")]
    assert len(bars) == len(rows)
    first_ts = datetime.strptime(rows[0]["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ET)
    assert bars.ts[0] == int(first_ts.timestamp())
    open_bar = next(i for i, r in enumerate(rows) if r["date"].endswith(" 09:30:00"))
    assert bars.ts[open_bar] == int(datetime(2025, 7, 1, 9, 30, tzinfo=ET).timestamp())
    assert bars.open[open_bar] == float(rows[open_bar]["Open"])
    assert bars.close[-1] == float(rows[-1]["Close"])
    assert bars.volume[5] == float(rows[5]["Volume"])
    with pytest.raises(SimDataError, match="2025-07-05"):
        csv_bars(SPY_CSV, "SPY", date(2025, 7, 5))


def _write(tmp_path: Path, body: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_csv_times_are_new_york_bar_starts(tmp_path: Path) -> None:
    rows = "2025-01-02 09:30:00,590,591,589,590.5,100\n2025-01-02 09:31:00,590.5,591,590,591,50\n"
    path = _write(tmp_path, HEADER + rows)
    bars = csv_bars(path, "SPY", date(2025, 1, 2))
    # 09:30 EST is 14:30 UTC in January
    assert bars.ts.tolist() == [
        int(datetime(2025, 1, 2, 14, 30, tzinfo=ZoneInfo("UTC")).timestamp()) + 60 * i for i in range(2)
    ]
    assert bars.close.tolist() == [590.5, 591.0]


@pytest.mark.parametrize(
    ("bad_row", "why"),
    [
        ("2025-01-02 09:32:00,591,abc,590,591,10", "non-numeric price"),
        ("2025-01-02 09:32:00,591,592,590,591", "missing field"),
        ("2025-01-02 9:32,591,592,590,591,10", "bad timestamp"),
        ("2025-01-02 09:32:00,591,590,592,591,10", "high below low"),
        ("2025-01-02 09:32:00,591,592,590,591,10,7", "extra field"),
        ("2025-01-02 09:30:00,591,592,590,591,10", "time going backwards"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path: Path, bad_row: str, why: str) -> None:
    good = "2025-01-02 09:30:00,590,591,589,590.5,100\n2025-01-02 09:31:00,590.5,591,590,591,50\n"
    path = _write(tmp_path, HEADER + good + bad_row + "\n2025-01-02 09:33:00,591,592,590,591,10\n", f"{why[:4]}.csv")
    with pytest.raises(SimDataError) as err:
        csv_bars(path, "SPY", date(2025, 1, 2))
    assert "line 4" in str(err.value), why
    assert str(path.name) in str(err.value)


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "date,Open,High,Low,Close\n2025-01-02 09:30:00,590,591,589,590.5\n")
    with pytest.raises(SimDataError, match="missing column.*Volume"):
        csv_bars(path, "SPY", date(2025, 1, 2))
    with pytest.raises(SimDataError, match="nope.csv"):
        csv_bars(tmp_path / "nope.csv", "SPY", date(2025, 1, 2))


def test_day_not_in_file_names_day_and_file(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "2025-01-02 09:30:00,590,591,589,590.5,100\n")
    with pytest.raises(SimDataError, match=r"bars\.csv.*2025-01-03"):
        csv_bars(path, "SPY", date(2025, 1, 3))


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "2025-01-02 09:30:00,590,591,589,590.5,100\n")
    assert csv_bars(path, "SPY", date(2025, 1, 2)).close.tolist() == [590.5]
    path.write_text(HEADER + "2025-01-02 09:30:00,590,591,589,590.25,100\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert csv_bars(path, "SPY", date(2025, 1, 2)).close.tolist() == [590.25]
