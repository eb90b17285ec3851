"""logs.keep_days: a run left going for months deletes its own dated files past the window, and nothing else."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from engine.config import ConfigError, parse_config
from engine.retention import prune

NAMES = ["audit-{d}.jsonl", "audit-{d}.jsonl.torn", "engine-{d}.log", "trades-{d}.log", "report-{d}.json",
         "report-{d}.html", "report-{d}-underlying.png"]


def test_prune_deletes_the_engines_files_of_sessions_before_the_window_only(tmp_path) -> None:
    for d in ("20250630", "20250701", "20250702"):
        for name in NAMES:
            (tmp_path / name.format(d=d)).write_text("x")
    keep = ["summary.json", "notes-20250601.txt", "audit-2025.jsonl", "my-audit-20250601.jsonl"]
    for name in keep:
        (tmp_path / name).write_text("x")
    gone = prune(tmp_path, date(2025, 7, 3), keep_days=2)
    assert sorted(p.name for p in gone) == sorted(n.format(d="20250630") for n in NAMES)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(keep + [n.format(d=d) for d in ("20250701", "20250702") for n in NAMES])
    assert prune(tmp_path, date(2030, 1, 1), keep_days=None) == []


def test_a_run_prunes_at_the_start_of_each_day(tmp_path, default_raw_config) -> None:
    from engine.app import build
    from engine.logs import close_day_files

    old = tmp_path / "audit-20250601.jsonl"
    old.write_text("{}\n")
    raw = copy.deepcopy(default_raw_config)
    raw.update(logs_dir=str(tmp_path), logs={"keep_days": 10})
    raw["risk"]["kill_file"] = str(tmp_path / "KILL")
    raw["report"] = {"html": False}
    runner = build(parse_config(raw, "keep 10 days"))
    try:
        assert runner.run() == 0
    finally:
        close_day_files()
    assert not old.exists() and (tmp_path / "audit-20250701.jsonl").exists()


def test_forever_is_for_alpaca_and_a_simulated_one_must_be_bounded(default_raw_config) -> None:
    raw = copy.deepcopy(default_raw_config)
    raw["session"]["days"] = "forever"
    with pytest.raises(ConfigError, match="forever never ends a simulated run"):
        parse_config(raw, "sim forever")
    raw.update(broker="alpaca")
    cfg = parse_config(raw, "alpaca forever")
    assert cfg.session.forever and cfg.session.count is None
    raw["session"]["days"] = 0
    with pytest.raises(ConfigError, match="session.days: .*at least 1, or forever"):
        parse_config(raw, "zero days")
