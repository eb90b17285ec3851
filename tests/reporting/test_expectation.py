"""Paper vs expectation: a loopback paper session against serve-sim's market, compared with the simulator's day.

The close case: serve-sim runs the simulator's own model, so the expectation (the model on the session's recorded
bars, at the level its recorded chains carry) must find the same trades and nearly the same P&L. The divergent
case: serve-sim's smile is on purpose ten times as curved as the model the config describes, so the session
trades differently from what the simulator expected and the gap must show.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.app import build
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig, parse_config
from engine.journal.audit import Journal, read_journal
from engine.logs import close_day_files
from engine.reporting.day import build_day
from engine.reporting.expectation import expectation
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

KEY, SECRET = "PKFAKE123", "SKFAKE456"
STEEP = {"smile_curvature_z": 0.3}  # ten times the default smile: the wings are priced far richer


def paper_session(logs: Path, raw_default: dict[str, Any], market: SimConfig) -> tuple[Path, dict[str, Any]]:
    """A day traded with broker alpaca against serve-sim (`market`) on 127.0.0.1: its journal and report."""
    clock = SimClock(datetime(2025, 7, 1, 9, 0, tzinfo=ET))
    server = SimServer(SimVenue(market, "SPY", clock, ExchangeCalendar()), clock, api_key=KEY, secret_key=SECRET)
    server.start()
    raw = copy.deepcopy(raw_default)
    raw.update(broker="alpaca", logs_dir=str(logs))
    raw["risk"]["kill_file"] = str(logs / "KILL")
    raw["alpaca"].update(trading_url=server.url, data_url=server.url, timeout_s=5.0)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ALPACA_API_KEY", KEY)
            mp.setenv("ALPACA_SECRET_KEY", SECRET)
            mp.chdir(logs.parent)
            runner = build(parse_config(raw, "paper session"))
            assert runner.run() == 0
    finally:
        server.stop()
        close_day_files()
    [(path, report)] = runner.reports
    return logs / "audit-20250701.jsonl", report


@pytest.fixture(scope="module")
def close(tmp_path_factory, default_raw_config) -> tuple[Path, dict[str, Any]]:
    return paper_session(tmp_path_factory.mktemp("close") / "logs", default_raw_config, SimConfig())


@pytest.fixture(scope="module")
def divergent(tmp_path_factory, default_raw_config) -> tuple[Path, dict[str, Any]]:
    return paper_session(tmp_path_factory.mktemp("divergent") / "logs", default_raw_config, SimConfig(**STEEP))


def _gap(found: dict[str, Any], budget: float) -> float:
    return abs(found["paper_pnl"] - found["expected_pnl"]) / max(abs(found["expected_pnl"]), budget)


def test_on_the_simulators_own_market_the_expectation_finds_the_same_trades(close, default_raw_config) -> None:
    journal, report = close
    found = report["expectation"]
    assert found["measured"], found
    assert report["trades"], "the session trades"
    assert found["paper_pnl"] == report["total_pnl"]
    assert found["matched"] == len(found["trades"]) == len(report["trades"])
    for pair in found["trades"]:
        assert pair["paper"]["strikes"] == pair["expected"]["strikes"]
        assert pair["entry_apart_s"] == 0
        assert pair["fill_diff"] == 0, "the same quotes and the same fill rule give the same entry fill"
    budget = default_raw_config["risk"]["max_daily_loss"]
    assert found["gap"] == pytest.approx(_gap(found, budget), abs=1e-4)
    assert found["within"] and found["gap"] <= 0.02
    metric = report["metrics"]["expectation_gap"]
    assert (metric["value"], metric["met"]) == (found["gap"], True)
    assert f"{found['matched']} of {len(found['trades'])} trade(s) matched" in metric["detail"]


def test_a_market_unlike_the_model_shows_the_gap(divergent, default_raw_config) -> None:
    _, report = divergent
    found = report["expectation"]
    assert found["measured"], found
    assert found["trades"] and found["matched"] == 0, "the steeper smile changes what is traded"
    assert found["paper_pnl"] != found["expected_pnl"]
    assert found["gap"] == pytest.approx(_gap(found, default_raw_config["risk"]["max_daily_loss"]), abs=1e-4)
    assert not found["within"] and found["gap"] > 0.15
    assert report["metrics"]["expectation_gap"]["met"] is False


def test_the_expectation_rests_on_what_the_session_recorded(close) -> None:
    """The chain's level is fitted to the recorded chains: the default model's own level comes back."""
    journal, report = close
    market = report["expectation"]["market"]
    assert market["chain"] == "model"
    sim_level = 0.1384  # serve-sim's level of 2025-07-01 (seed 7, realized vol of the 5 sessions before)
    assert market["atm_iv"] == pytest.approx(sim_level, abs=0.0005)
    until = datetime.fromisoformat(report["expectation"]["recorded_until"])
    last_exit = max(datetime.fromisoformat(t["exit_time"]) for t in report["trades"])
    assert until >= last_exit


def test_report_rebuilds_the_same_expectation_and_shows_it(close, tmp_path, capsys) -> None:
    from engine.cli import main

    journal, live = close
    copy_ = tmp_path / journal.name
    copy_.write_bytes(journal.read_bytes())
    assert main(["report", str(copy_)]) == 0
    capsys.readouterr()
    rebuilt = json.loads((tmp_path / "report-20250701.json").read_text())
    assert rebuilt["expectation"] == live["expectation"]
    html = (tmp_path / "report-20250701.html").read_text()
    section = html[html.index("<h2>Paper vs expectation</h2>"):]
    table = section[section.index('<table id="expectation"'):section.index("</table>")]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", table)]
    pair = live["expectation"]["trades"][0]
    assert "/".join(f"{k:g}" for k in pair["paper"]["strikes"]) in cells
    assert f"{pair['expected']['pnl']:+.2f}" in cells and "yes" in cells
    assert f"gap {100 * live['expectation']['gap']:.1f}%" in section


def test_a_simulated_session_is_its_own_expectation(tmp_path) -> None:
    path = tmp_path / "audit-20250701.jsonl"
    j = Journal(path)
    j.append("header", datetime(2025, 7, 1, 9, 0, tzinfo=ET), session_date="2025-07-01", broker="sim", config={})
    j.close()
    records = read_journal(path)[0]
    found = expectation(path, records, {"holiday": False})
    assert found == {"measured": False, "why": "a simulated session is its own expectation"}


def test_a_paper_journal_without_recorded_inputs_is_not_measured_and_says_why(close, tmp_path) -> None:
    journal, _ = close
    records = [r for r in read_journal(journal)[0] if r["kind"] != "input"]
    path = tmp_path / journal.name
    j = Journal(path)
    reserved = ("kind", "ts", "seq", "prev_hash", "hash", "wall_ts")
    for r in records:
        j.append(r["kind"], datetime.fromisoformat(r["ts"]), **{k: v for k, v in r.items() if k not in reserved})
    j.close()
    rewritten = read_journal(path)[0]
    found = expectation(path, rewritten, build_day(rewritten))
    assert not found["measured"]
    assert "holds no bars" in found["why"] and str(path) in found["why"]


def test_a_re_simulation_that_breaks_costs_the_expectation_not_the_report(close, monkeypatch) -> None:
    journal, report = close
    import engine.reporting.expectation as module

    def broken(*_args: object, **_kwargs: object) -> dict:
        raise KeyError("trades")

    monkeypatch.setattr(module, "resimulate", broken)
    found = expectation(journal, read_journal(journal)[0], report)
    assert found == {"measured": False, "why": "the re-simulation failed: KeyError: 'trades'"}
