"""The sessions the report tests read: run once on the simulator with the default config (pages on)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from engine.app import build
from engine.config import parse_config
from engine.logs import close_day_files


def run_session(logs: Path, raw_default: dict[str, Any], **session: Any) -> tuple[Path, dict[str, Any]]:
    """One session in `logs`: its report's JSON path and the report."""
    raw = copy.deepcopy(raw_default)
    raw["logs_dir"] = str(logs)
    raw["risk"]["kill_file"] = str(logs / "KILL")
    raw["session"] = {**raw["session"], **session}
    runner = build(parse_config(raw, "test"))
    try:
        assert runner.run() == 0
    finally:
        close_day_files()
    [(path, report)] = runner.reports
    return path, report


@pytest.fixture(scope="package")
def default_day(tmp_path_factory, default_raw_config) -> tuple[Path, dict[str, Any]]:
    """The default session (2025-07-01, one trade): its report's JSON path and the live report."""
    return run_session(tmp_path_factory.mktemp("default-day"), default_raw_config)
