"""A run stopped by a signal before it is done exits INTERRUPTED and says how much of it never ran."""

from __future__ import annotations

import copy

from engine.app import build
from engine.config import parse_config
from engine.logs import close_day_files
from engine.reporting.console import human_summary
from engine.runner import INTERRUPTED


def test_a_multi_day_run_stopped_on_its_second_day_exits_interrupted(tmp_path, default_raw_config) -> None:
    raw = copy.deepcopy(default_raw_config)
    raw.update(logs_dir=str(tmp_path))
    raw["risk"]["kill_file"] = str(tmp_path / "KILL")
    raw["session"]["days"] = 5
    raw["report"] = {"html": False}
    runner = build(parse_config(raw, "five days"))
    try:
        runner.start()
        while len(runner.reports) < 1:
            runner.tick()
        while str(runner.days.day) == runner.reports[0][1]["session_date"] or str(runner.state) != "Scanning":
            runner.tick()
        runner.signals.stopped = "SIGTERM received"
        while not runner.finished:
            runner.tick()
    finally:
        close_day_files()
    assert runner.exit_code == INTERRUPTED
    assert [r["session_date"] for _, r in runner.reports] == ["2025-07-01", "2025-07-02"]
    assert runner.not_run == 3
    assert "INTERRUPTED (SIGTERM received): 3 session(s) of the run not run; exit code 3" in human_summary(runner)
