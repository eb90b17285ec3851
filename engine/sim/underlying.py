"""The simulated underlying: one session of minute bars, from a seeded random walk or from a CSV file.

Both sources return engine.models.Bars with `ts` = bar start in epoch seconds (UTC), so the market
and the engine never care where the prices came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.models import Bars, Session
from engine.sim.errors import SimDataError

MINUTES_PER_DAY = 390
TRADING_DAYS = 252
OPEN_CLOSE_BOOST = 1.25
"""Extra variance share at the bell: with it, the first and last minute move ~2.25x the midday minute."""
BASE_VOLUME = 100_000.0
CSV_COLUMNS = ("date", "Open", "High", "Low", "Close", "Volume")
_PRICE_COLUMNS = ("Open", "High", "Low", "Close")


def intraday_profile(n: int) -> np.ndarray:
    """U-shaped volatility multipliers for n minutes, scaled to mean square 1 so the daily variance
    (and so the realized annual volatility) is exactly what was asked for, however the day is shaped."""
    u = (np.arange(n) + 0.5) / n
    shape = 1.0 + OPEN_CLOSE_BOOST * (2.0 * u - 1.0) ** 2
    return shape / np.sqrt(np.mean(shape * shape))


def random_walk_bars(symbol: str, session: Session, start_price: float, annual_vol: float, seed: int) -> Bars:
    """Regular-session bars (open to the real close) of a geometric random walk.

    The generator is seeded from (seed, day) so every day has its own path, yet a day is the same on
    every run whatever other days were simulated before it. Every session opens at `start_price`.
    """
    open_s = int(session.open.timestamp())
    n = (int(session.close.timestamp()) - open_s) // 60
    rng = np.random.default_rng([seed % 2**63, session.day.toordinal()])
    sd = annual_vol / np.sqrt(TRADING_DAYS * MINUTES_PER_DAY) * intraday_profile(n)
    log_path = np.log(start_price) + np.concatenate(([0.0], np.cumsum(sd * rng.standard_normal(n))))
    prices = np.round(np.exp(log_path), 2)
    opens, closes = prices[:-1], prices[1:]
    wick_up = np.exp(0.5 * sd * np.abs(rng.standard_normal(n)))
    wick_down = np.exp(-0.5 * sd * np.abs(rng.standard_normal(n)))
    highs = np.maximum(np.round(np.maximum(opens, closes) * wick_up, 2), np.maximum(opens, closes))
    lows = np.minimum(np.round(np.minimum(opens, closes) * wick_down, 2), np.minimum(opens, closes))
    volume = np.maximum(np.round(BASE_VOLUME * intraday_profile(n) ** 2 * rng.lognormal(0.0, 0.4, n)), 1.0)
    ts = open_s + 60 * np.arange(n, dtype=np.int64)
    return Bars(symbol, ts, opens, highs, lows, closes, volume)


@dataclass(frozen=True, slots=True)
class _CsvFile:
    ts: np.ndarray
    days: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def csv_bars(path: str | Path, symbol: str, day: date) -> Bars:
    """Every bar of `day` (extended hours included) from a `date,Open,High,Low,Close,Volume` file
    whose timestamps are naive New York bar starts. The file is parsed once and cached."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise SimDataError(f"{path}: cannot read bars file ({exc.strerror})") from None
    data = _load_csv(str(path.resolve()), stat.st_mtime_ns)
    key = np.datetime64(day, "D")
    lo, hi = int(np.searchsorted(data.days, key, "left")), int(np.searchsorted(data.days, key, "right"))
    if lo == hi:
        raise SimDataError(f"{path}: no bars for {day.isoformat()}")
    sl = slice(lo, hi)
    return Bars(
        symbol,
        data.ts[sl].copy(),
        data.open[sl].copy(),
        data.high[sl].copy(),
        data.low[sl].copy(),
        data.close[sl].copy(),
        data.volume[sl].copy(),
    )


@lru_cache(maxsize=8)
def _load_csv(path: str, mtime_ns: int) -> _CsvFile:
    """Parse and validate the whole file; `mtime_ns` is part of the cache key so an edited file is re-read."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        where = f"line {found.group(1)}" if found else "unknown line"
        raise SimDataError(f"{path}: {where}: malformed row ({exc})") from None
    except (OSError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise SimDataError(f"{path}: cannot read bars file ({exc})") from None
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise SimDataError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")

    naive = pd.to_datetime(df["date"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    cols = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in (*_PRICE_COLUMNS, "Volume")}
    o, h, lo, c, v = (cols[k] for k in (*_PRICE_COLUMNS, "Volume"))
    bad = naive.isna().to_numpy() | np.isnan(v) | (v < 0)
    with np.errstate(invalid="ignore"):
        bad |= np.isnan(o + h + lo + c) | (lo <= 0) | (h < np.maximum(o, c)) | (lo > np.minimum(o, c))
    if bad.any():
        i = int(np.argmax(bad))
        row = ",".join(str(df[col].iloc[i]) for col in CSV_COLUMNS)
        raise SimDataError(f"{path}: line {i + 2}: malformed bar {row!r} (bad timestamp, price, volume or high/low)")

    try:
        utc = naive.dt.tz_localize("America/New_York", ambiguous="raise", nonexistent="raise").dt.tz_convert("UTC")
    except (ValueError, TypeError) as exc:
        raise SimDataError(f"{path}: timestamp not valid in America/New_York ({exc})") from None
    ts = ((utc - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        i = int(np.argmax(np.diff(ts) <= 0)) + 1
        raise SimDataError(f"{path}: line {i + 2}: timestamps must be strictly increasing")
    days = naive.to_numpy().astype("datetime64[D]")
    arrays = [ts, days, o, h, lo, c, v]
    for a in arrays:
        a.flags.writeable = False
    return _CsvFile(*arrays)


def regular_closes(bars: Bars, session: Session) -> np.ndarray:
    """Closes of the bars that start inside the session's regular hours."""
    inside = (bars.ts >= session.open.timestamp()) & (bars.ts < session.close.timestamp())
    return bars.close[inside]


def realized_vol(sessions: list[np.ndarray]) -> float | None:
    """Annualized realized volatility of minute log returns within each session (no overnight gaps), in
    trading time: per-minute variance x 252 x 390, the same clock the model's IV runs on. None without data."""
    returns = [np.diff(np.log(c)) for c in sessions if len(c) > 1]
    if not returns:
        return None
    r = np.concatenate(returns)
    return float(np.sqrt(np.mean(r * r) * TRADING_DAYS * MINUTES_PER_DAY))


def vol_series_before(path: Path, day: date) -> tuple[date, float]:
    """The last value of a `date,value` CSV dated before `day` (a VIX close is known only after its close)."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SimDataError(f"{path}: cannot read volatility file ({exc})") from None
    if df.shape[1] < 2:
        raise SimDataError(f"{path}: a volatility file has two columns, date and value")
    dates = pd.to_datetime(df.iloc[:, 0], errors="coerce").dt.date
    values = pd.to_numeric(df.iloc[:, 1], errors="coerce")
    ok = dates.notna() & values.notna() & (values > 0)
    before = [(d, float(v)) for d, v in zip(dates[ok], values[ok], strict=True) if d < day]
    if not before:
        raise SimDataError(f"{path}: no value dated before {day.isoformat()}")
    return max(before)
