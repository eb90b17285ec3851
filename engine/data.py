"""The underlying's recent minute bars, validated, and a verdict on whether they can be traded on.

Bars are fetched incrementally (only what is new since the last bar) to keep request counts and
journal size small. Bad bars are rejected with the reason, never patched; if nothing usable arrives
the verdict turns stale, then outage. No price is ever invented here.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
from loguru import logger

from engine.config import DataConfig
from engine.epoch import epoch
from engine.errors import BrokerError, DataError
from engine.models import Bars
from engine.ports import MarketData

MINUTES_PER_YEAR = 252 * 390


class DataHealth(StrEnum):
    OK = "ok"
    INSUFFICIENT = "insufficient"
    STALE = "stale"
    OUTAGE = "outage"


@dataclass(frozen=True)
class DataVerdict:
    health: DataHealth
    reason: str

    @property
    def tradable(self) -> bool:
        return self.health is DataHealth.OK


BARS_OK = DataVerdict(DataHealth.OK, "ok")


def validate_bars(bars: Bars) -> None:
    """Raise DataError naming the first bad bar; a batch is taken whole or not at all.

    Plain Python: a poll brings a bar or two, where numpy's per-call overhead cost ten times the check."""
    n = len(bars)
    if n == 0:
        return
    o, h, lo, c, ts = bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), bars.ts.tolist()
    for i in range(n):
        if not all(math.isfinite(x) and x > 0 for x in (o[i], h[i], lo[i], c[i])):
            raise DataError(f"{bars.symbol}: non-positive or non-finite price in bar {i} (ts={int(ts[i])})")
    for i in range(n):
        if h[i] < max(o[i], c[i]) or lo[i] > min(o[i], c[i]):
            raise DataError(f"{bars.symbol}: high/low inconsistent with open/close in bar {i} (ts={int(ts[i])})")
    for i in range(1, n):
        if ts[i] <= ts[i - 1]:
            raise DataError(f"{bars.symbol}: timestamps not strictly increasing at bar {i} (ts={int(ts[i])})")


class BarWindow:
    """A rolling window of the last `lookback_minutes` of bars for one symbol."""

    def __init__(self, market_data: MarketData, symbol: str, cfg: DataConfig) -> None:
        self._md = market_data
        self.symbol = symbol
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._ts: deque[int] = deque()
        self._close: deque[float] = deque()
        """Plain Python numbers, oldest first: a poll appends a bar or two and reads the last, where numpy's
        per-call overhead (a concatenation, a mask, a scalar read) cost more than the window's arithmetic."""
        self.last_error: str | None = None
        self._first_ask: float | None = None

    @property
    def spot(self) -> float | None:
        return self._close[-1] if self._close else None

    @property
    def last_bar_ts(self) -> int | None:
        return self._ts[-1] if self._ts else None

    def __len__(self) -> int:
        return len(self._ts)

    def refresh(self, now: datetime) -> None:
        """Fetch bars completed since the last one; a failure is remembered, the old window is kept."""
        now_s = int(epoch(now))
        if self._first_ask is None:
            self._first_ask = epoch(now)
        last = self._ts[-1] if self._ts else None
        if last is not None and now_s < last + 120:
            return
        start = (
            datetime.fromtimestamp(last + 60, tz=now.tzinfo)
            if last is not None
            else now - timedelta(minutes=self.cfg.lookback_minutes)
        )
        try:
            bars = self._md.bars(self.symbol, start, now)
            validate_bars(bars)
        except (DataError, BrokerError) as exc:
            self.last_error = str(exc)
            logger.warning(f"bars refused or unavailable: {exc}")
            return
        self.last_error = None
        if len(bars) == 0:
            return
        ts = bars.ts.tolist()
        if last is not None and ts[0] <= last:
            self.last_error = f"{self.symbol}: bars overlap the window (ts {ts[0]})"
            return
        self._ts.extend(ts)
        self._close.extend(bars.close.tolist())
        keep_from = now_s - self.cfg.lookback_minutes * 60
        while self._ts and self._ts[0] < keep_from:
            self._ts.popleft()
            self._close.popleft()

    def verdict(self, now: datetime) -> DataVerdict:
        if self.last_bar_ts is None:
            why = f": {self.last_error}" if self.last_error else ""
            waited = epoch(now) - self._first_ask if self._first_ask is not None else 0.0
            if waited > self.cfg.outage_tolerance_s:
                return DataVerdict(DataHealth.OUTAGE, f"data outage: no {self.symbol} bar for {waited:.0f}s{why}")
            return DataVerdict(DataHealth.INSUFFICIENT, f"no bars yet for {self.symbol}{why}")
        age = epoch(now) - (self.last_bar_ts + 60)
        if age > self.cfg.outage_tolerance_s:
            return DataVerdict(DataHealth.OUTAGE, f"data outage: last {self.symbol} bar is {age:.0f}s old")
        if age > self.cfg.max_staleness_s:
            return DataVerdict(DataHealth.STALE, f"stale data: last {self.symbol} bar is {age:.0f}s old")
        if len(self._ts) < self.cfg.min_data_points:
            return DataVerdict(
                DataHealth.INSUFFICIENT, f"{len(self._ts)} bars, need {self.cfg.min_data_points}"
            )
        return BARS_OK

    def realized_vol(self) -> float:
        """Annualized close-to-close volatility of the window (trading-time minutes)."""
        if len(self._close) < 3:
            return 0.0
        r = np.diff(np.log(np.fromiter(self._close, float, len(self._close))))
        return float(np.std(r, ddof=1) * np.sqrt(MINUTES_PER_YEAR))
