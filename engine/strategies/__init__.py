"""Strategies decide whether and what to trade; they never send orders themselves.

`strategy.kind` picks one from STRATEGIES; engine/strategies/base.py says what a strategy must do.
"""

from __future__ import annotations

from engine.config import StrategyConfig
from engine.models import CONTRACT_MULTIPLIER
from engine.strategies.base import Skip, Strategy
from engine.strategies.iron_butterfly import IronButterfly
from engine.strategies.iron_condor import IronCondor

STRATEGIES: dict[str, type[IronCondor]] = {"iron_condor": IronCondor, "iron_butterfly": IronButterfly}


def make_strategy(cfg: StrategyConfig, multiplier: int = CONTRACT_MULTIPLIER) -> Strategy:
    return STRATEGIES[cfg.kind](cfg, multiplier)


__all__ = ["STRATEGIES", "Skip", "Strategy", "make_strategy"]
