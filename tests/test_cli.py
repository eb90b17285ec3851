"""`python run.py ...` as a user runs it: exit codes, messages, and what a holiday or early close leaves behind."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

NY = ZoneInfo("America/New_York")


def run_py(repo_root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", *args], cwd=repo_root, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def config_file(tmp_path, default_raw_config):
    """config.yaml with the kill file under tmp_path (its default, logs/KILL, is relative to the repo)."""

    def write(**risk) -> Path:
        raw = copy.deepcopy(default_raw_config)
        raw["risk"]["kill_file"] = str(tmp_path / "KILL")
        raw["risk"].update(risk)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        return path

    return write


def journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_misspelled_key_exits_2_naming_the_key(repo_root, tmp_path, default_raw_config):
    raw = copy.deepcopy(default_raw_config)
    raw["risk"]["max_daly_loss"] = raw["risk"].pop("max_daily_loss")
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = run_py(repo_root, "--config", str(path), "--logs-dir", str(tmp_path / "logs"))
    assert out.returncode == 2
    assert "risk.max_daly_loss" in out.stderr and str(path) in out.stderr
    assert not (tmp_path / "logs").exists()


def test_missing_config_file_exits_2(repo_root, tmp_path):
    path = tmp_path / "absent.yaml"
    out = run_py(repo_root, "--config", str(path), "--logs-dir", str(tmp_path / "logs"))
    assert out.returncode == 2
    assert str(path) in out.stderr


def test_bad_date_format_exits_2(repo_root, tmp_path, config_file):
    out = run_py(repo_root, "--config", str(config_file()), "--date", "07/01/2025", "--logs-dir", str(tmp_path))
    assert out.returncode == 2
    assert "07/01/2025" in out.stderr


def test_a_weekend_date_trades_the_next_session_like_a_longer_run_from_it(repo_root, tmp_path, config_file):
    """`--date` a Saturday: one run's session is Monday's, just as two sessions from it are Monday's and Tuesday's."""
    cfg = str(config_file())
    one = run_py(repo_root, "--config", cfg, "--date", "2025-07-05", "--logs-dir", str(tmp_path / "one"), "--quiet")
    two = run_py(repo_root, "--config", cfg, "--date", "2025-07-05", "--days", "2", "--logs-dir", str(tmp_path / "two"),
                 "--quiet")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr

    def traded(logs: Path) -> list[str]:
        return sorted(p.stem[7:] for p in logs.glob("report-*.json")
                      if json.loads(p.read_text())["trade_count"] > 0)

    assert traded(tmp_path / "one") == ["20250707"]
    assert traded(tmp_path / "two") == ["20250707", "20250708"]
    saturday = journal(tmp_path / "one" / "audit-20250705.jsonl")
    assert not [r for r in saturday if r["kind"] == "order"]


def test_early_close_day_trades_only_inside_the_shortened_day(repo_root, tmp_path, config_file, default_raw_config):
    logs = tmp_path / "logs"
    out = run_py(repo_root, "--config", str(config_file()), "--date", "2025-11-28", "--logs-dir", str(logs))
    assert out.returncode == 0, out.stderr
    records = journal(logs / "audit-20251128.jsonl")

    day = date(2025, 11, 28)
    close = datetime(2025, 11, 28, 13, 0, tzinfo=NY)  # the day after Thanksgiving closes at 13:00
    hh, mm = map(int, default_raw_config["risk"]["hard_exit"].split(":"))
    eh, em = map(int, default_raw_config["strategy"]["entry_end"].split(":"))
    hard_exit_gap = timedelta(hours=16) - timedelta(hours=hh, minutes=mm)  # 45 min before a 16:00 close
    entry_to_exit = timedelta(hours=hh, minutes=mm) - timedelta(hours=eh, minutes=em)
    hard_exit = close - hard_exit_gap  # 12:15
    entry_end = min(datetime(day.year, day.month, day.day, eh, em, tzinfo=NY), close, hard_exit - entry_to_exit)

    def ts(r: dict) -> datetime:
        return datetime.fromisoformat(r["ts"])

    orders = [r for r in records if r["kind"] == "order"]
    transitions = [r for r in records if r["kind"] == "transition"]
    signals = [r for r in transitions if r["trigger"] == "signal"]
    assert signals, "the simulated early-close day should trade at least once"
    assert all(ts(r) < close for r in orders)
    assert all(ts(r) < entry_end for r in signals)
    assert all(
        ts(r) < entry_end
        for r in orders
        if r["event"] == "submit" and r["purpose"] == "entry" and r["client_order_id"].endswith("-00")
    )
    assert ts(transitions[-1]) < close
    assert transitions[-1]["dest"] == "ShuttingDown"
    report = json.loads((logs / "report-20251128.json").read_text(encoding="utf-8"))
    assert report["open_at_end"] == []


def test_diagram_prints_a_mermaid_state_diagram_with_every_state(repo_root):
    out = run_py(repo_root, "diagram")
    assert out.returncode == 0, out.stderr
    assert "stateDiagram" in out.stdout
    for state in ("Initializing", "AwaitingOpen", "Scanning", "Entering", "Monitoring", "Halted", "ShuttingDown"):
        assert state in out.stdout


def test_replay_into_a_reader_that_stops_early_ends_quietly(repo_root, tmp_path):
    """`replay ... | head -1`: the reader closes the pipe; no traceback, exit 0."""
    logs = tmp_path / "logs"
    run = subprocess.run([sys.executable, "run.py", "--days", "8", "--logs-dir", str(logs), "--quiet"], cwd=repo_root,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    journals = sorted(str(p) for p in logs.glob("audit-*.jsonl"))
    proc = subprocess.Popen([sys.executable, "run.py", "replay", *journals * 40], cwd=repo_root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does once it has its line
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err


def test_replay_of_an_unknown_state_is_a_usage_error_naming_the_states(repo_root, tmp_path, capsys):
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(tmp_path / "audit-20250701.jsonl"), "--state", "Foo"])
    assert exit_.value.code == 2
    assert "no state 'Foo': the states are Initializing, AwaitingOpen" in capsys.readouterr().err


def test_set_changes_a_config_key_for_the_run_and_a_typo_is_a_usage_error(repo_root, tmp_path, config_file):
    path = str(config_file())
    base = run_py(repo_root, "--config", path, "--logs-dir", str(tmp_path / "a"), "--quiet")
    changed = run_py(repo_root, "--config", path, "--logs-dir", str(tmp_path / "b"), "--quiet",
                     "--set", "strategy.short_delta=0.25", "--set", "report.html=false")
    assert base.returncode == changed.returncode == 0, changed.stderr
    strikes = [json.loads((tmp_path / d / "report-20250701.json").read_text())["trades"][0]["strikes"] for d in "ab"]
    assert strikes[0] != strikes[1]
    assert not (tmp_path / "b" / "report-20250701.html").exists()
    header = journal(tmp_path / "b" / "audit-20250701.jsonl")[0]
    assert header["config"]["strategy"]["short_delta"] == 0.25
    typo = run_py(repo_root, "--config", path, "--logs-dir", str(tmp_path / "c"), "--set", "strategy.shortdelta=0.2")
    assert typo.returncode == 2 and "no key strategy.shortdelta" in typo.stderr
    bad = run_py(repo_root, "--config", path, "--logs-dir", str(tmp_path / "c"), "--set", "strategy.short_delta=big")
    assert bad.returncode == 2 and "strategy.short_delta" in bad.stderr


def test_relative_paths_are_read_from_the_config_files_folder(repo_root, tmp_path, default_raw_config):
    """Run from the checkout, a config elsewhere still finds its own bars and writes its own logs beside itself."""
    folder = tmp_path / "strategy"
    folder.mkdir()
    rows = ["date,Open,High,Low,Close,Volume"]
    start = datetime(2025, 7, 1, 9, 30, tzinfo=NY)
    for m in range(390):
        t = start + timedelta(minutes=m)
        rows.append(f"{t:%Y-%m-%d %H:%M:%S},600.0,600.1,599.9,600.0,1000")
    (folder / "bars.csv").write_text("\n".join(rows) + "\n")
    raw = copy.deepcopy(default_raw_config)
    raw.update(logs_dir="out")
    raw["sim"].update(bars="bars.csv")
    (folder / "cfg.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = run_py(repo_root, "--config", str(folder / "cfg.yaml"), "--quiet")
    assert out.returncode == 0, out.stderr
    header = journal(folder / "out" / "audit-20250701.jsonl")[0]
    assert header["config"]["sim"]["bars"] == str(folder / "bars.csv")
    assert not (repo_root / "out").exists()


def test_the_kill_file_follows_the_logs_dir_and_an_unwritable_logs_dir_is_a_config_error(repo_root, tmp_path,
                                                                                         default_raw_config):
    raw = copy.deepcopy(default_raw_config)
    raw["risk"]["kill_file"] = None
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    logs = tmp_path / "moved"
    logs.mkdir()
    (logs / "KILL").touch()
    out = run_py(repo_root, "--config", str(path), "--logs-dir", str(logs))
    assert out.returncode == 2 and f"kill file {logs / 'KILL'} exists" in out.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = run_py(repo_root, "--config", str(path), "--logs-dir", str(blocker / "logs"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"config error: logs_dir {blocker / 'logs'}: cannot write there")
    assert "Traceback" not in out.stderr


def test_the_zdte_command_is_the_same_cli_with_a_version_and_a_help_that_shows_the_run_options(repo_root, tmp_path):
    zdte = Path(sys.executable).parent / "zdte"
    assert zdte.exists(), "pip install -e . installs the zdte command beside the interpreter"
    version = subprocess.run([str(zdte), "--version"], capture_output=True, text=True, timeout=60, check=False)
    from importlib.metadata import version as installed

    assert (version.returncode, version.stdout.strip()) == (0, f"zdte {installed('zdte')}")
    helped = subprocess.run([str(zdte), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: zdte")
    for option in ("--config", "--days", "--set", "--logs-dir"):
        assert option in helped.stdout.split("run options (the default command")[1], option
    run = subprocess.run([str(zdte), "run", "--logs-dir", str(tmp_path), "--quiet"], cwd=repo_root,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0 and (tmp_path / "audit-20250701.jsonl").exists(), run.stderr


def test_an_unknown_command_is_named_with_the_commands_there_are(repo_root):
    out = run_py(repo_root, "reprot", "--logs-dir", "logs")
    assert out.returncode == 2
    assert "unknown command 'reprot'" in out.stderr and "report" in out.stderr.split("the commands are")[1]
