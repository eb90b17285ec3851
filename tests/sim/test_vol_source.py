"""Where the model's volatility comes from: data that exists before the session, never a look ahead."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.sim.venue import SimVenue

REPO_ROOT = Path(__file__).resolve().parents[2]
SPY_CSV = REPO_ROOT.parent / "shared" / "data" / "other" / "pratikdkale_rl_trade_execution" / "data" / "SPY_1min.csv"
D1, D2 = date(2025, 7, 7), date(2025, 7, 8)


def write_csv(path: Path, days: dict[date, np.ndarray], until: datetime | None = None, pre_open: int = 0) -> Path:
    """Bars of each day from 09:30 (after `pre_open` bars before it), closes as given; cut at `until` if set."""
    lines = ["date,Open,High,Low,Close,Volume"]
    for day, closes in days.items():
        start = datetime(day.year, day.month, day.day, 9, 30) - timedelta(minutes=pre_open)
        prev = closes[0]
        for i, c in enumerate(closes):
            t = start + timedelta(minutes=i)
            if until is not None and t.replace(tzinfo=ET) >= until:
                break
            lines.append(f"{t:%Y-%m-%d %H:%M:%S},{prev},{max(prev, c)},{min(prev, c)},{c},100")
            prev = c
    path.write_text("\n".join(lines) + "\n")
    return path


def path_of(seed: int, n: int = 390, sd: float = 0.0005) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(600 * np.exp(np.cumsum(sd * rng.standard_normal(n))), 2)


def venue(csv: Path, at: datetime, **sim: object) -> SimVenue:
    cfg = SimConfig(bars=csv, **sim)
    return SimVenue(cfg, "SPY", SimClock(at), ExchangeCalendar())


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ET)


def test_quotes_at_11_are_the_same_whether_or_not_the_bars_after_11_exist(tmp_path: Path) -> None:
    days = {D1: path_of(1), D2: path_of(2)}
    whole = write_csv(tmp_path / "whole.csv", days)
    cut = write_csv(tmp_path / "cut.csv", days, until=at(D2, 11, 0))
    for t in (at(D2, 10, 0), at(D2, 10, 30), at(D2, 10, 59)):
        a, b = venue(whole, t), venue(cut, t)
        assert a.chain("SPY", D2, 580, 620) == b.chain("SPY", D2, 580, 620)
        assert a.chain_source == b.chain_source


def test_realized_level_comes_from_earlier_sessions_not_from_today(tmp_path: Path) -> None:
    calm, wild = path_of(1, sd=0.0003), path_of(1, sd=0.0012)
    today = path_of(2)
    base = venue(write_csv(tmp_path / "a.csv", {D1: calm, D2: today}), at(D2, 10, 0))
    base.market()
    other_history = venue(write_csv(tmp_path / "b.csv", {D1: wild, D2: today}), at(D2, 10, 0))
    other_history.market()
    other_today = venue(write_csv(tmp_path / "c.csv", {D1: calm, D2: path_of(9, sd=0.002)}), at(D2, 10, 0))
    other_today.market()
    level = base.chain_source["atm_iv"]
    assert other_history.chain_source["atm_iv"] == pytest.approx(4 * level, rel=0.1)
    assert other_today.chain_source["atm_iv"] == level
    assert "realized" in str(base.chain_source["atm_iv_source"]) and "1 earlier session" in str(
        base.chain_source["atm_iv_source"]
    )
    # The premium scales it, and the fixed source ignores the data.
    premium = venue(write_csv(tmp_path / "d.csv", {D1: calm, D2: today}), at(D2, 10, 0), vol_premium=1.5)
    premium.market()
    assert premium.chain_source["atm_iv"] == pytest.approx(1.5 * level, rel=1e-3)
    fixed = venue(write_csv(tmp_path / "e.csv", {D1: wild, D2: today}), at(D2, 10, 0), vol_source="fixed")
    fixed.market()
    assert fixed.chain_source["atm_iv"] == 0.16


def test_the_first_day_of_a_file_uses_its_pre_open_bars(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "pre.csv", {D1: path_of(4, n=450)}, pre_open=60)
    v = venue(csv, at(D1, 10, 0))
    v.market()
    assert "pre-open" in str(v.chain_source["atm_iv_source"]) and 0 < float(v.chain_source["atm_iv"]) < 1


def test_a_volatility_file_gives_the_value_dated_before_the_session(tmp_path: Path) -> None:
    series = tmp_path / "vix.csv"
    series.write_text(f"date,close\n{D1.isoformat()},15.0\n{D2.isoformat()},40.0\n")
    csv = write_csv(tmp_path / "bars.csv", {D1: path_of(1), D2: path_of(2)})
    v = venue(csv, at(D2, 10, 0), vol_source="file", vol_file=series, vol_premium=0.8)
    v.market()
    assert v.chain_source["atm_iv"] == pytest.approx(0.8 * 0.15)  # July 7's close, not July 8's own


@pytest.mark.skipif(not SPY_CSV.is_file(), reason=f"../shared/data not present: {SPY_CSV} is missing")
def test_each_days_report_states_the_atm_iv_derived_from_real_bars(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["sim"]["bars"] = str(SPY_CSV)
    raw["session"] = {"date": "2025-07-08", "days": 2}
    raw["logs_dir"] = str(tmp_path)
    raw["risk"]["kill_file"] = str(tmp_path / "KILL")
    cfg = tmp_path / "real.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), "--config", str(cfg)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for day in ("20250708", "20250709"):
        sim = json.loads((tmp_path / f"report-{day}.json").read_text())["simulator"]
        assert sim["chain"] == "model" and "realized" in sim["atm_iv_source"]
        assert 0.02 < sim["atm_iv"] < 0.3 and sim["atm_iv"] != 0.16
        assert f"ATM IV {sim['atm_iv']:.3f}" in done.stderr
