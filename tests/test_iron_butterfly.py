"""The second strategy behind engine/strategies/base.py: the iron butterfly, chosen by `strategy.kind`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from engine.book import CondorPlan
from engine.config import StrategyConfig
from engine.models import Right, Side
from engine.risk import structure_problems
from engine.strategies import STRATEGIES, Skip, make_strategy
from engine.strategies.iron_butterfly import IronButterfly
from tests.test_strategy import SPOT, chain, sym

REPO_ROOT = Path(__file__).resolve().parents[1]


def butterfly(**kw) -> IronButterfly:
    strategy = make_strategy(StrategyConfig(kind="iron_butterfly", min_credit=0.05, **kw))
    assert isinstance(strategy, IronButterfly)
    return strategy


def test_kind_chooses_the_strategy() -> None:
    assert set(STRATEGIES) == {"iron_condor", "iron_butterfly"}
    assert type(make_strategy(StrategyConfig())).__name__ == "IronCondor"


def test_both_shorts_sit_at_the_strike_nearest_spot_with_wings_either_side() -> None:
    contracts, quotes = chain()
    plan = butterfly(wing_width=5.0).propose(SPOT, contracts, quotes)
    assert isinstance(plan, CondorPlan)
    assert plan.strikes == (595.0, 600.0, 600.0, 605.0)  # spot 600.30: 600 is nearest
    assert [(leg.symbol, leg.side) for leg in plan.legs] == [
        (sym(Right.PUT, 595), Side.BUY),
        (sym(Right.PUT, 600), Side.SELL),
        (sym(Right.CALL, 600), Side.SELL),
        (sym(Right.CALL, 605), Side.BUY),
    ]
    assert plan.mid < 0 and structure_problems(plan) == []  # a credit, and the risk gate's structure holds
    assert plan.max_loss == (5.0 + plan.mid) * 100


def test_the_nearest_strike_whose_wings_are_quoted_is_taken() -> None:
    contracts, quotes = chain()
    del quotes[sym(Right.CALL, 605)]  # 600's call wing is gone: 601 (wings 596/606) is the next nearest
    plan = butterfly(wing_width=5.0).propose(SPOT, contracts, quotes)
    assert isinstance(plan, CondorPlan) and plan.strikes == (596.0, 601.0, 601.0, 606.0)


def test_no_butterfly_without_a_strike_whose_wings_are_listed() -> None:
    contracts, quotes = chain(lo=598, hi=602)
    out = butterfly(wing_width=5.0).propose(SPOT, contracts, quotes)
    assert isinstance(out, Skip) and "both 5-point wings quoted" in out.reason


def test_a_simulated_day_trades_butterflies_end_to_end(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["strategy"]["kind"] = "iron_butterfly"
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path), str(tmp_path / "KILL")
    cfg = tmp_path / "butterfly.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    run = [sys.executable, str(REPO_ROOT / "run.py")]
    done = subprocess.run([*run, "--config", str(cfg)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report-20250701.json").read_text())
    assert report["trade_count"] >= 1 and report["open_at_end"] == []
    for trade in report["trades"]:
        lp, sp, sc, lc = trade["strikes"]
        assert sp == sc and sp - lp == lc - sc == raw["strategy"]["wing_width"]
    journal = str(tmp_path / "audit-20250701.jsonl")
    verified = subprocess.run([*run, "replay", journal, "--verify"], capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and "identical" in verified.stdout


def test_the_gate_still_refuses_shorts_that_cross() -> None:
    contracts, quotes = chain()
    plan = butterfly(wing_width=5.0).propose(SPOT, contracts, quotes)
    assert isinstance(plan, CondorPlan)
    from dataclasses import replace

    crossed = replace(plan, strikes=(590.0, 601.0, 600.0, 605.0))
    assert any("out of order" in why for why in structure_problems(crossed))
