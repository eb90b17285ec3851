"""calibrate and fidelity: on quotes the model made itself (known parameters must come back, and the model
must measure as perfect against its own quotes), and as commands on the real GOOG files when they are present."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.calendar import ExchangeCalendar
from engine.calibration.calibrate import calibrate
from engine.calibration.fidelity import BUCKETS, FIELDS, measure
from engine.config import Config, InstrumentConfig, SimConfig
from engine.pricing import TRADING_SECONDS_PER_YEAR
from engine.sim import model
from engine.sim.model import ModelParams
from engine.sim.realday import load_real_day
from tests.sim.test_lean import entry, write_zip

REPO_ROOT = Path(__file__).resolve().parents[1]
LEAN = REPO_ROOT.parent / "shared" / "data" / "lean"
GOOG_23 = LEAN / "option" / "usa" / "minute" / "goog" / "20151223_quote_american.zip"
GOOG_24 = LEAN / "option" / "usa" / "minute" / "goog" / "20151224_quote_american.zip"
DAY = date(2021, 1, 4)
TRUE = ModelParams(
    atm_iv=0.20,
    skew_z=-0.10,
    curvature_z=0.04,
    late_rise=1.5,
    late_minutes=20.0,
    spread_base=0.02,
    spread_per_premium=0.02,
    spread_max=0.30,
    spread_late=0.0,
    min_bid=0.01,
    tick=0.01,
    tick_above_3=0.01,
    rate=0.0,
)
STRIKES = np.arange(90.0, 111.0, 1.0)


def model_day(folder: Path, p: ModelParams = TRUE) -> Path:
    """A LEAN tree of one day whose option quotes are the model's own, on a seeded path around 100."""
    session = ExchangeCalendar().session(DAY)
    assert session is not None
    n = 390
    rng = np.random.default_rng(3)
    path = 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(0.0004 * rng.standard_normal(n)))))
    opens, closes = path[:-1], path[1:]
    spot = np.concatenate(([opens[0]], closes[:-1]))  # the simulator's spot rule: last completed close
    open_s = int(session.open.timestamp())
    starts = open_s + 60 * np.arange(n)
    left = (int(session.close.timestamp()) - starts).astype(float)
    t = left / TRADING_SECONDS_PER_YEAR
    cols = np.repeat(STRIKES, 2)
    calls = np.tile([True, False], len(STRIKES))
    _, bid, ask, _, _ = model.price_grid(p, spot, cols, calls, t, [t], left / 60.0)
    rows: dict[str, list[str]] = {}
    for c, (k, call) in enumerate(zip(cols, calls, strict=True)):
        name = entry("call" if call else "put", k, DAY, DAY, "zzz", "american")
        dc_bid, dc_ask = np.round(bid[:, c] * 10_000).astype(int), np.round(ask[:, c] * 10_000).astype(int)
        body = []
        for j in range(n - 1):  # bar j opens at minute j's quote and closes at minute j+1's
            b = f"{dc_bid[j]},{max(dc_bid[j], dc_bid[j + 1])},{min(dc_bid[j], dc_bid[j + 1])},{dc_bid[j + 1]},10"
            a = f"{dc_ask[j]},{max(dc_ask[j], dc_ask[j + 1])},{min(dc_ask[j], dc_ask[j + 1])},{dc_ask[j + 1]},10"
            bid_side = b if dc_bid[j] > 0 and dc_bid[j + 1] > 0 else ",,,,0"
            body.append(f"{34_200_000 + 60_000 * j},{bid_side},{a}")
        rows[name] = body
    quotes = write_zip(
        folder / "lean" / "option" / "usa" / "minute" / "zzz" / f"{DAY:%Y%m%d}_quote_american.zip",
        {name: "\n".join(body) + "\n" for name, body in rows.items()},
    )
    bars = "".join(
        f"{34_200_000 + 60_000 * j},{round(o * 10_000)},{round(max(o, c) * 10_000)},{round(min(o, c) * 10_000)},"
        f"{round(c * 10_000)},100\n"
        for j, (o, c) in enumerate(zip(opens, closes, strict=True))
    )
    write_zip(
        folder / "lean" / "equity" / "usa" / "minute" / "zzz" / f"{DAY:%Y%m%d}_trade.zip",
        {f"{DAY:%Y%m%d}_zzz_minute_trade.csv": bars},
    )
    return quotes


def test_calibration_recovers_the_parameters_of_quotes_the_model_made(tmp_path: Path) -> None:
    day = load_real_day(model_day(tmp_path), ExchangeCalendar())
    start = replace(TRUE, atm_iv=0.5, skew_z=0.0, curvature_z=0.0, late_rise=0.0, spread_base=0.0)
    fit = calibrate([day], start, None).params
    assert fit.atm_iv == pytest.approx(TRUE.atm_iv, rel=0.03)
    # Rise and decay trade off against each other; their product (the extra variance of the late bump) is what
    # a day of quotes pins down.
    assert fit.late_rise * fit.late_minutes == pytest.approx(TRUE.late_rise * TRUE.late_minutes, rel=0.2)
    assert fit.skew_z == pytest.approx(TRUE.skew_z, abs=0.02)
    assert fit.curvature_z == pytest.approx(TRUE.curvature_z, abs=0.02)
    assert fit.spread_per_premium == pytest.approx(TRUE.spread_per_premium, abs=0.01)
    assert fit.spread_base == pytest.approx(TRUE.spread_base, abs=0.015)


def _config(p: ModelParams) -> Config:
    sim = SimConfig(
        smile_skew_z=p.skew_z,
        smile_curvature_z=p.curvature_z,
        late_rise=p.late_rise,
        late_minutes=p.late_minutes,
        spread_base=p.spread_base,
        spread_per_premium=p.spread_per_premium,
        spread_max=p.spread_max,
        min_bid=p.min_bid,
        rate=p.rate,
    )
    return Config(underlying="ZZZ", sim=sim, instrument=InstrumentConfig(tick=p.tick, tick_above_3=p.tick_above_3))


def test_the_model_measured_against_its_own_quotes_is_exact_and_a_wrong_level_is_not(tmp_path: Path) -> None:
    day = load_real_day(model_day(tmp_path), ExchangeCalendar())
    same = measure(day, _config(TRUE), TRUE.atm_iv)
    assert [b["bucket"] for b in same["buckets"]] == list(BUCKETS)
    assert all(set(FIELDS) <= set(b) for b in same["buckets"])
    assert same["all"]["n"] > 1000
    assert same["all"]["mae"] == pytest.approx(0.0, abs=1e-9) and same["all"]["inside_fraction"] == 1.0
    assert same["all"]["real_spread"] == pytest.approx(same["all"]["model_spread"])
    off = measure(day, _config(TRUE), 1.5 * TRUE.atm_iv)
    assert off["all"]["mae"] > 0.02 and off["all"]["inside_fraction"] < 0.9
    otm = next(b for b in off["buckets"] if b["bucket"] == "otm0.15-0.30")
    assert otm["n"] > 0 and otm["mae_half_spreads"] > 0.5
    assert set(off["hours"]) == {f"{h:02d}" for h in range(9, 16)}


def test_a_window_measures_only_its_minutes(tmp_path: Path) -> None:
    from datetime import time

    day = load_real_day(model_day(tmp_path), ExchangeCalendar(), start=time(11, 0), until=time(12, 0))
    assert len(day.starts) == 60
    result = measure(day, _config(TRUE), TRUE.atm_iv)
    assert set(result["hours"]) == {"11"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )


@pytest.mark.skipif(not GOOG_23.is_file(), reason=f"../shared/data not present: {GOOG_23} is missing")
def test_calibrate_on_goog_1223_writes_a_model_a_config_reads_and_fidelity_measures_it(tmp_path: Path) -> None:
    out = tmp_path / "goog-model.yaml"
    done = run("calibrate", str(GOOG_23), "--config", "examples/goog-20151224.yaml", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "level (ATM IV" in done.stdout and "residuals" in done.stdout
    written = yaml.safe_load(out.read_text())["model"]
    assert written["vol_source"] == "fixed" and 0.05 < written["implied_vol"] < 0.5
    measured = run("fidelity", "--config", "examples/goog-20151224.yaml", "--model", str(out), str(GOOG_24), "--json")
    assert measured.returncode == 0, measured.stderr
    result = json.loads(measured.stdout)
    assert [b["bucket"] for b in result["buckets"]] == list(BUCKETS)
    assert result["atm_iv"] == pytest.approx(written["implied_vol"])
    assert result["combo"]["n"] > 0 and len(result["combo"]["strikes"]) == 4


def test_a_model_file_with_an_unknown_key_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad-model.yaml"
    bad.write_text("model:\n  implied_vol: 0.2\n  smile_skew: -0.8\n")
    cfg = tmp_path / "cfg.yaml"
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["sim"]["model"] = str(bad)
    cfg.write_text(yaml.safe_dump(raw))
    done = run("--config", str(cfg))
    assert done.returncode == 2 and "unknown model key(s) smile_skew" in done.stderr and str(bad) in done.stderr


def test_calibrating_from_a_recorded_session_recovers_the_simulators_own_model(tmp_path: Path) -> None:
    """A session's journal holds the chains the engine fetched; fitted, they give back the model that made them."""
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path), str(tmp_path / "KILL")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    assert run("--config", str(cfg), "--quiet").returncode == 0
    journal = tmp_path / "audit-20250701.jsonl"
    level = json.loads((tmp_path / "report-20250701.json").read_text())["simulator"]["atm_iv"]
    out = tmp_path / "from-journal.yaml"
    done = run("calibrate", str(journal), "-o", str(out))
    assert done.returncode == 0, done.stderr
    fitted = yaml.safe_load(out.read_text())["model"]
    # The engine watched the chain from 10:00 to the early afternoon: there the level and the late-day bump
    # trade off, and what the quotes pin down is the ATM IV they carry, minute by minute.
    hours_left = np.array([6.0, 4.0, 2.0])
    t = hours_left * 3600 / TRADING_SECONDS_PER_YEAR
    sim = raw["sim"]
    made = replace(TRUE, atm_iv=level, late_rise=sim["late_rise"], late_minutes=sim["late_minutes"])
    fit = replace(
        TRUE, atm_iv=fitted["implied_vol"], late_rise=fitted["late_rise"], late_minutes=fitted["late_minutes"]
    )
    np.testing.assert_allclose(model.effective_atm_iv(fit, t, [t]), model.effective_atm_iv(made, t, [t]), rtol=0.01)
    assert fitted["smile_skew_z"] == pytest.approx(raw["sim"]["smile_skew_z"], abs=0.02)
    assert fitted["smile_curvature_z"] == pytest.approx(raw["sim"]["smile_curvature_z"], abs=0.02)
    measured = run("fidelity", str(journal), "--model", str(out), "--json")
    assert measured.returncode == 0, measured.stderr
    assert json.loads(measured.stdout)["all"]["n"] > 100
