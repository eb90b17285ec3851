"""`run.py check`: each line names what it checked; a failure names the culprit; exit 1 on any failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from engine.app import adapters_for_check
from engine.check import run_checks
from engine.config import parse_config

REPO_ROOT = Path(__file__).resolve().parents[1]


def config(tmp_path: Path, **sim: object):
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path / "logs"), str(tmp_path / "KILL")
    raw["sim"].update(sim)
    return parse_config(raw, "test")


def test_the_default_simulated_setup_passes_every_line(tmp_path: Path) -> None:
    lines = run_checks(config(tmp_path), adapters_for_check)
    names = [line.name for line in lines]
    assert names == [
        "API keys",
        "connection",
        "paper account",
        "options level",
        "buying power",
        "market calendar",
        "data feed: bars",
        "data feed: option chain",
        "risk limits",
        "log directory",
        "kill switch",
        "alerts",
    ]
    assert all(line.ok for line in lines), [str(line) for line in lines if not line.ok]
    chain = next(line for line in lines if line.name == "data feed: option chain")
    assert "option quotes within" in chain.detail  # checked at the entry window, not skipped as closed


def test_a_kill_file_fails_its_line_and_the_command(tmp_path: Path) -> None:
    (tmp_path / "KILL").write_text("")
    lines = run_checks(config(tmp_path), adapters_for_check)
    kill = next(line for line in lines if line.name == "kill switch")
    assert not kill.ok and "EXISTS" in kill.detail
    cfg_path = tmp_path / "cfg.yaml"
    raw = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path / "logs"), str(tmp_path / "KILL")
    cfg_path.write_text(yaml.safe_dump(raw))
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), "check", "--config", str(cfg_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "[FAIL] kill switch" in done.stdout and "11 passed, 1 failed" in done.stdout


def test_a_missing_bars_file_fails_and_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    lines = run_checks(config(tmp_path, bars=str(missing)), adapters_for_check)
    failed = [line for line in lines if not line.ok]
    assert failed and str(missing) in failed[0].detail
