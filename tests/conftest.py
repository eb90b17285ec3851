"""Shared fixtures of the component, CLI and end-to-end tests.

Helpers are handed out as fixtures (not imported from here): each test folder is a package (tests.states,
tests.sim, ...), so its own conftest and helper modules are imported by their full names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from engine.models import OptionQuote

REPO_ROOT = Path(__file__).resolve().parents[1]
QUOTE_TS = datetime(2025, 7, 1, 11, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(autouse=True)
def _no_alerts_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test, nor any run.py it starts, sends alerts to the URLs of the machine's environment or `.env`: an empty
    ZDTE_NOTIFY_URLS in the environment wins over both (tests of the variable set their own)."""
    monkeypatch.setenv("ZDTE_NOTIFY_URLS", "")


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
