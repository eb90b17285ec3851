"""BarWindow and validate_bars: incremental fetches, verdicts at the thresholds, bad bars refused, never patched."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engine.config import DataConfig
from engine.data import BarWindow, DataHealth, validate_bars
from engine.errors import BrokerError, DataError
from engine.models import Bars
from engine.ports import MarketData

NY = ZoneInfo("America/New_York")
OPEN = datetime(2025, 7, 1, 9, 30, tzinfo=NY)
OPEN_S = int(OPEN.timestamp())
CFG = DataConfig(min_data_points=10, lookback_minutes=30, max_staleness_s=120, outage_tolerance_s=300)


def bars_of(closes, first_ts: int = OPEN_S, symbol: str = "SPY") -> Bars:
    """Consistent minute bars: each opens at the previous close, high/low bracket open and close."""
    closes = np.asarray(closes, dtype=float)
    opens = np.concatenate(([closes[0]], closes[:-1]))
    ts = first_ts + 60 * np.arange(len(closes), dtype=np.int64)
    hi = np.maximum(opens, closes) + 0.05
    lo = np.minimum(opens, closes) - 0.05
    return Bars(symbol, ts, opens, hi, lo, closes, np.full(len(closes), 1000.0))


def at(minutes: float) -> datetime:
    return OPEN + timedelta(minutes=minutes)


class FakeFeed:
    """Serves a fixed series of bars: those starting in [start, end) and complete by `end`."""

    def __init__(self, closes) -> None:
        self.all = bars_of(closes)

    def __call__(self, symbol: str, start: datetime, end: datetime) -> Bars:
        b = self.all
        keep = (b.ts >= start.timestamp()) & (b.ts + 60 <= end.timestamp())
        return Bars(symbol, b.ts[keep], b.open[keep], b.high[keep], b.low[keep], b.close[keep], b.volume[keep])


@pytest.fixture
def series() -> np.ndarray:
    return 600.0 + 0.01 * np.arange(390)


@pytest.fixture
def md(mocker, series):
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = FakeFeed(series)
    return md


def test_first_fetch_asks_for_the_lookback_then_only_for_bars_after_the_last_one(md, series):
    w = BarWindow(md, "SPY", CFG)
    now = at(45)
    w.refresh(now)
    md.bars.assert_called_once_with("SPY", now - timedelta(minutes=30), now)
    assert len(w) == 30  # the bars of 09:45 .. 10:14
    assert w.last_bar_ts == OPEN_S + 44 * 60
    assert w.spot == series[44]

    w.refresh(at(45.5))  # the next bar is not complete yet: no request at all
    assert md.bars.call_count == 1

    w.refresh(at(46))
    assert md.bars.call_count == 2
    _, start, end = md.bars.call_args.args
    assert start.timestamp() == OPEN_S + 45 * 60
    assert end == at(46)
    assert w.spot == series[45]
    assert w.last_bar_ts == OPEN_S + 45 * 60
    assert len(w) == 30  # one bar in, the oldest out


def test_window_keeps_only_the_lookback_after_a_long_gap(md, series):
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(20))
    assert len(w) == 20
    w.refresh(at(100))
    _, start, _ = md.bars.call_args.args
    assert start.timestamp() == OPEN_S + 20 * 60
    assert len(w) == 30
    assert w.spot == series[99]


def _window_with(md, minutes: float) -> BarWindow:
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(minutes))
    return w


def test_no_bars_yet_is_insufficient(md):
    w = BarWindow(md, "SPY", CFG)
    v = w.verdict(at(10))
    assert v.health is DataHealth.INSUFFICIENT and not v.tradable


@pytest.mark.parametrize("n,health", [(9, DataHealth.INSUFFICIENT), (10, DataHealth.OK), (11, DataHealth.OK)])
def test_min_data_points_threshold(md, n, health):
    w = _window_with(md, n)
    assert len(w) == n
    v = w.verdict(at(n))
    assert v.health is health
    assert v.tradable is (health is DataHealth.OK)
    if health is DataHealth.INSUFFICIENT:
        assert str(n) in v.reason and str(CFG.min_data_points) in v.reason


@pytest.mark.parametrize(
    "age_s,health",
    [
        (0, DataHealth.OK),
        (CFG.max_staleness_s, DataHealth.OK),
        (CFG.max_staleness_s + 1, DataHealth.STALE),
        (CFG.outage_tolerance_s, DataHealth.STALE),
        (CFG.outage_tolerance_s + 1, DataHealth.OUTAGE),
    ],
)
def test_staleness_and_outage_thresholds_count_from_the_last_bar_close(md, age_s, health):
    w = _window_with(md, 40)
    last_bar_end = OPEN + timedelta(seconds=w.last_bar_ts - OPEN_S + 60)
    v = w.verdict(last_bar_end + timedelta(seconds=age_s))
    assert v.health is health
    if health is not DataHealth.OK:
        assert f"{int(age_s)}s old" in v.reason


def _bad(kind: str, i: int) -> Bars:
    b = bars_of(600.0 + 0.01 * np.arange(8), first_ts=OPEN_S + 40 * 60)
    ts, o, h, lo, c = b.ts.copy(), b.open.copy(), b.high.copy(), b.low.copy(), b.close.copy()
    if kind == "nan":
        c[i] = math.nan
    elif kind == "inf":
        h[i] = math.inf
    elif kind == "zero":
        lo[i] = 0.0
    elif kind == "negative":
        o[i] = c[i] = -1.0
    elif kind == "high-below-low":
        h[i], lo[i] = lo[i] - 1.0, h[i] + 1.0
    elif kind == "high-below-close":
        h[i] = c[i] - 0.5
    elif kind == "ts-backwards":
        ts[i] = ts[i - 1] - 60
    elif kind == "ts-repeated":
        ts[i] = ts[i - 1]
    return Bars("SPY", ts, o, h, lo, c, b.volume)


BAD_KINDS = ["nan", "inf", "zero", "negative", "high-below-low", "high-below-close", "ts-backwards", "ts-repeated"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_validate_bars_names_the_first_bad_bar(kind):
    bad = _bad(kind, 5)
    with pytest.raises(DataError) as info:
        validate_bars(bad)
    message = str(info.value)
    assert "bar 5" in message
    assert str(int(bad.ts[5])) in message


def test_validate_bars_accepts_good_and_empty_batches():
    validate_bars(bars_of([600.0, 600.5, 599.9]))
    validate_bars(Bars.empty("SPY"))


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_a_malformed_batch_is_refused_whole_and_the_previous_window_kept(mocker, kind):
    good = bars_of(600.0 + 0.01 * np.arange(40))
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = [good, _bad(kind, 5)]
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(40))
    before = (len(w), w.spot, w.last_bar_ts)
    w.refresh(at(48))
    assert (len(w), w.spot, w.last_bar_ts) == before
    assert "bar 5" in w.last_error


def test_after_a_refused_batch_the_next_fetch_asks_again_from_the_last_good_bar(mocker):
    good = bars_of(600.0 + 0.01 * np.arange(40))
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = [good, _bad("nan", 2), bars_of([601.0, 601.1], first_ts=OPEN_S + 40 * 60)]
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(40))
    w.refresh(at(42))
    w.refresh(at(42))
    second, third = md.bars.call_args_list[1].args, md.bars.call_args_list[2].args
    assert second[1] == third[1] and third[1].timestamp() == OPEN_S + 40 * 60
    assert w.spot == 601.1 and w.last_error is None


def test_bars_overlapping_the_window_are_refused(mocker):
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = [bars_of(600.0 + np.zeros(20)), bars_of([650.0, 651.0], first_ts=OPEN_S + 19 * 60)]
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(20))
    w.refresh(at(22))
    assert w.spot == 600.0 and len(w) == 20
    assert "overlap" in w.last_error


@pytest.mark.parametrize("exc", [BrokerError("data API timed out", transient=True), DataError("feed said no")])
def test_a_market_data_failure_keeps_the_window_and_records_last_error(mocker, exc):
    good = bars_of(600.0 + 0.01 * np.arange(40))
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = [good, exc]
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(40))
    before = (len(w), w.spot, w.last_bar_ts)
    w.refresh(at(45))
    assert (len(w), w.spot, w.last_bar_ts) == before
    assert w.last_error == str(exc)


def test_failure_before_any_bar_is_reported_in_the_verdict(mocker):
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = BrokerError("connection refused", transient=True)
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(40))
    v = w.verdict(at(40))
    assert v.health is DataHealth.INSUFFICIENT and "connection refused" in v.reason
    assert w.spot is None


def test_data_stops_arriving_turns_stale_then_outage_without_inventing_bars(mocker):
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = [bars_of(600.0 + 0.01 * np.arange(20))] + [Bars.empty("SPY")] * 10
    w = BarWindow(md, "SPY", CFG)
    w.refresh(at(20))
    for minute in (23, 26, 30):
        w.refresh(at(minute))
    assert len(w) == 20 and w.spot == pytest.approx(600.19)
    assert w.verdict(at(23)).health is DataHealth.STALE
    assert w.verdict(at(30)).health is DataHealth.OUTAGE


def test_reset_forgets_bars_and_errors(md):
    w = _window_with(md, 20)
    w.last_error = "old"
    w.reset()
    assert len(w) == 0 and w.spot is None and w.last_error is None


def test_realized_vol_of_a_series_with_known_volatility(mocker):
    annual = 0.20
    per_minute = annual / math.sqrt(252 * 390)
    n_returns = 100
    steps = per_minute * np.where(np.arange(n_returns) % 2 == 0, 1.0, -1.0)
    closes = 600.0 * np.exp(np.concatenate(([0.0], np.cumsum(steps))))
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = FakeFeed(closes)
    w = BarWindow(md, "SPY", DataConfig(min_data_points=30, lookback_minutes=200))
    w.refresh(at(n_returns + 1))
    assert len(w) == n_returns + 1
    # +-r alternating has a sample standard deviation of r * sqrt(n / (n - 1)) (mean ~0)
    assert w.realized_vol() == pytest.approx(annual * math.sqrt(n_returns / (n_returns - 1)), rel=1e-3)


def test_realized_vol_is_zero_for_a_flat_or_too_short_series(mocker):
    md = mocker.Mock(spec=MarketData)
    md.bars.side_effect = FakeFeed(np.full(50, 600.0))
    w = BarWindow(md, "SPY", CFG)
    assert w.realized_vol() == 0.0
    w.refresh(at(2))
    assert len(w) == 2 and w.realized_vol() == 0.0
    w.refresh(at(40))
    assert w.realized_vol() == 0.0


def test_a_feed_that_never_answers_becomes_an_outage_after_the_tolerance(mocker):
    """No bar at all since the first ask: insufficient at first, an outage once the tolerance has passed."""
    md = mocker.create_autospec(MarketData, instance=True)
    md.bars.side_effect = BrokerError("GET /v2/stocks/bars: HTTP 503", transient=True)
    cfg = DataConfig(outage_tolerance_s=600.0)
    window = BarWindow(md, "SPY", cfg)
    window.refresh(at(30))
    assert window.verdict(at(30)).health is DataHealth.INSUFFICIENT
    window.refresh(at(39))
    assert window.verdict(at(39)).health is DataHealth.INSUFFICIENT
    window.refresh(at(40.5))
    verdict = window.verdict(at(40.5))
    assert verdict.health is DataHealth.OUTAGE and "no SPY bar for 630s" in verdict.reason and "503" in verdict.reason
