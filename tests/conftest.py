"""Shared fixtures of the component, CLI and end-to-end tests.

Helpers are handed out as fixtures (not imported from here): tests/sim and tests/states have conftest modules
of their own, and `from conftest import ...` would pick whichever was imported last.
"""
# ruff: noqa: E402 - the engine may only be imported once `states` resolves to the engine's package (below)

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def _import_the_states_package() -> None:
    """Make `states` the engine's package, not the tests/states directory.

    pytest's default (prepend) import mode puts tests/ on sys.path, and there tests/states is a namespace
    package named `states` that shadows the editable-installed one, so `from states import HANDLERS`
    (engine.runner) would fail. Import the real package once with tests/ hidden.
    """
    tests_dir = Path(__file__).resolve().parent
    cached = sys.modules.get("states")
    if cached is not None and getattr(cached, "__file__", None) is not None:
        return
    for name in [m for m in sys.modules if m == "states" or m.startswith("states.")]:
        del sys.modules[name]
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != tests_dir]
    try:
        importlib.import_module("states")
    finally:
        sys.path[:] = saved


_import_the_states_package()

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from engine.models import OptionQuote

REPO_ROOT = Path(__file__).resolve().parents[1]
QUOTE_TS = datetime(2025, 7, 1, 11, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def default_raw_config() -> dict[str, Any]:
    """config.yaml as the YAML parser reads it; shared, so copy it before changing anything."""
    return yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))


def _quote(symbol: str, bid: float, ask: float, delta: float | None = None, iv: float | None = None) -> OptionQuote:
    return OptionQuote(symbol, bid, ask, QUOTE_TS, iv, delta)


@pytest.fixture(scope="session")
def quote() -> Callable[..., OptionQuote]:
    """quote(symbol, bid, ask, delta=None, iv=None) with a fixed timestamp."""
    return _quote


@pytest.fixture(scope="session")
def money() -> Callable[[float], Any]:
    """Compare dollar amounts to the cent."""
    return lambda x: pytest.approx(x, abs=0.005)
