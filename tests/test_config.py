"""config.yaml validation: every mistake is a ConfigError naming the key and the file; secrets only from env/.env."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, time
from pathlib import Path

import pytest
import yaml

from engine.config import Config, load_config, load_secrets
from engine.errors import ConfigError


def _write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_default_config_yaml_loads_with_the_values_written_in_it(repo_root):
    raw = yaml.safe_load((repo_root / "config.yaml").read_text(encoding="utf-8"))
    cfg = load_config(repo_root / "config.yaml")
    assert isinstance(cfg, Config)
    assert cfg.broker == raw["broker"]
    assert cfg.underlying == raw["underlying"]
    assert cfg.session.date == raw["session"]["date"]
    assert cfg.strategy.direction == raw["strategy"]["direction"]
    assert cfg.strategy.wing_width == raw["strategy"]["wing_width"]
    assert cfg.risk.max_daily_loss == raw["risk"]["max_daily_loss"]
    hh, mm = map(int, raw["risk"]["hard_exit"].split(":"))
    assert cfg.risk.hard_exit == time(hh, mm)
    hh, mm = map(int, raw["strategy"]["entry_end"].split(":"))
    assert cfg.strategy.entry_end == time(hh, mm)
    assert cfg.orders.client_order_id_prefix == raw["orders"]["client_order_id_prefix"]


def test_a_valid_partial_file_keeps_defaults_for_the_rest(tmp_path):
    cfg = load_config(_write(tmp_path, "session:\n  date: 2025-07-01\nstrategy:\n  contracts: 2\n"))
    assert cfg.session.date == date(2025, 7, 1)
    assert cfg.strategy.contracts == 2
    assert cfg.strategy.direction == "short"


@pytest.mark.parametrize(
    "text,key",
    [
        ("brokr: sim\n", "brokr"),
        ("risk:\n  max_daly_loss: 500\n", "risk.max_daly_loss"),
        ("strategy:\n  wing_widht: 5\n", "strategy.wing_widht"),
        ("orders:\n  tick: 0.01\n  walk_intervall_s: 10\n", "orders.walk_intervall_s"),
    ],
)
def test_unknown_key_is_an_error_naming_the_key_and_the_file(tmp_path, text, key):
    path = _write(tmp_path, text)
    message = _error(path)
    assert key in message
    assert str(path) in message


def test_api_keys_in_the_yaml_are_rejected_as_unknown_keys(tmp_path):
    path = _write(tmp_path, "alpaca:\n  api_key: PKXXXX\n")
    message = _error(path)
    assert "alpaca.api_key" in message and str(path) in message


@pytest.mark.parametrize(
    "text,key",
    [
        ("strategy:\n  contracts: two\n", "strategy.contracts"),
        ("strategy:\n  contracts: 1.5\n", "strategy.contracts"),
        ("risk:\n  max_daily_loss: lots\n", "risk.max_daily_loss"),
        ("risk:\n  close_positions_on_shutdown: maybe\n", "risk.close_positions_on_shutdown"),
        ("strategy:\n  direction: sideways\n", "strategy.direction"),
        ("session:\n  days: [1, 2]\n", "session.days"),
        ("risk: 5\n", "risk"),
    ],
)
def test_wrong_type_is_an_error_naming_the_key_and_the_file(tmp_path, text, key):
    path = _write(tmp_path, text)
    message = _error(path)
    assert key in message and str(path) in message


@pytest.mark.parametrize(
    "text,names",
    [
        ('strategy:\n  entry_end: "15:30"\n', ("entry_end", "hard_exit")),
        ('strategy:\n  entry_end: "15:15"\n', ("entry_end", "hard_exit")),
        ('strategy:\n  entry_start: "14:45"\n', ("entry_start", "entry_end")),
        ('strategy:\n  entry_start: "14:30"\n', ("entry_start", "entry_end")),
        ("strategy:\n  wing_width: 0\n", ("strategy.wing_width",)),
        ("strategy:\n  wing_width: -5\n", ("strategy.wing_width",)),
        ("strategy:\n  contracts: -1\n", ("strategy.contracts",)),
        ("strategy:\n  contracts: 0\n", ("strategy.contracts",)),
        ("risk:\n  max_daily_loss: -100\n", ("risk.max_daily_loss",)),
        ("strategy:\n  short_delta: 0.7\n", ("strategy.short_delta",)),
    ],
)
def test_impossible_values_are_errors_naming_the_keys(tmp_path, text, names):
    path = _write(tmp_path, text)
    message = _error(path)
    assert str(path) in message
    for name in names:
        assert name in message


def test_malformed_yaml_names_the_line_and_column(tmp_path):
    text = 'broker: sim\nrisk:\n  max_daily_loss: 500\n  hard_exit "15:15": x: y\n'
    path = _write(tmp_path, text)
    lines = text.splitlines()
    bad_line = 4
    bad_column = lines[bad_line - 1].index(": y") + 1
    message = _error(path)
    assert str(path) in message
    assert f"line {bad_line}" in message
    assert f"column {bad_column}" in message


def test_top_level_list_is_an_error(tmp_path):
    path = _write(tmp_path, "- broker: sim\n- underlying: SPY\n")
    message = _error(path)
    assert str(path) in message and "list" in message


def test_missing_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nope" / "config.yaml"
    assert str(path) in _error(path)


@pytest.fixture
def no_secret_env(monkeypatch):
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    return monkeypatch


def test_secrets_come_from_the_environment(no_secret_env, tmp_path):
    no_secret_env.setenv("ALPACA_API_KEY", "env-key")
    no_secret_env.setenv("ALPACA_SECRET_KEY", "env-secret")
    no_secret_env.setenv("ALPACA_PAPER", "true")
    assert load_secrets(tmp_path / "absent.env") == {"ALPACA_API_KEY": "env-key", "ALPACA_SECRET_KEY": "env-secret"}


def test_secrets_come_from_a_dotenv_file_and_other_keys_are_ignored(no_secret_env, tmp_path):
    env_file = _write(
        tmp_path,
        "ALPACA_API_KEY=file-key\nALPACA_SECRET_KEY=file-secret\nALPACA_PAPER=true\nOTHER_TOKEN=abc\n",
        ".env",
    )
    assert load_secrets(env_file) == {"ALPACA_API_KEY": "file-key", "ALPACA_SECRET_KEY": "file-secret"}


def test_environment_wins_over_dotenv_and_missing_keys_are_absent(no_secret_env, tmp_path):
    no_secret_env.setenv("ALPACA_API_KEY", "env-key")
    env_file = _write(tmp_path, "ALPACA_API_KEY=file-key\nALPACA_SECRET=not-the-name\n", ".env")
    assert load_secrets(env_file) == {"ALPACA_API_KEY": "env-key"}


def test_no_secrets_anywhere_gives_an_empty_mapping(no_secret_env, tmp_path):
    no_secret_env.setenv("ALPACA_SECRET_KEY", "")
    assert load_secrets(tmp_path / "absent.env") == {}


# --- regression: YAML's own readings of times, dates and booleans never slip through --------------------------


def test_an_unquoted_time_is_refused_with_a_hint_to_quote_it(tmp_path):
    path = _write(tmp_path, "strategy:\n  entry_start: 10:00\n")  # YAML 1.1 reads 10:00 as 600 (sexagesimal)
    assert yaml.safe_load(path.read_text())["strategy"]["entry_start"] == 600
    message = _error(path)
    assert "strategy.entry_start" in message and str(path) in message
    assert "quoted" in message and "600" in message


@pytest.mark.parametrize("key", ["strategy.entry_end", "risk.hard_exit"])
def test_every_unquoted_time_key_is_refused(tmp_path, key):
    section, name = key.split(".")
    message = _error(_write(tmp_path, f"{section}:\n  {name}: 15:00\n"))
    assert key in message and "quoted" in message


def test_a_quoted_time_is_read_as_hours_and_minutes(tmp_path):
    cfg = load_config(_write(tmp_path, 'strategy:\n  entry_start: "10:05"\n  entry_end: "14:00"\nrisk:\n'
                                       '  hard_exit: "15:10"\n'))
    assert cfg.strategy.entry_start == time(10, 5)
    assert cfg.strategy.entry_end == time(14, 0)
    assert cfg.risk.hard_exit == time(15, 10)


def test_an_impossible_session_date_is_a_config_error_naming_the_key(tmp_path):
    path = _write(tmp_path, "session:\n  date: 2025-13-01\n")
    message = _error(path)  # not a ValueError from the YAML parser
    assert "session.date" in message and str(path) in message


def test_a_boolean_where_a_number_belongs_is_refused(tmp_path):
    path = _write(tmp_path, "strategy:\n  contracts: true\n")
    message = _error(path)
    assert "strategy.contracts" in message and str(path) in message


@pytest.mark.parametrize(
    "text,key",
    [
        ("session:\n  date: 2025-07-01\nstrategy:\n  entry_start: 10:00\n", "strategy.entry_start"),
        ("session:\n  date: 2025-13-01\n", "session.date"),
        ("session:\n  date: 2025-07-01\nstrategy:\n  contracts: true\n", "strategy.contracts"),
    ],
    ids=["unquoted-time", "impossible-date", "bool-contracts"],
)
def test_the_cli_exits_2_naming_the_key(repo_root, tmp_path, text, key):
    """Everything else in the file is valid: without the check, the day would run."""
    path = _write(tmp_path, text + f"risk:\n  kill_file: {tmp_path / 'KILL'}\n")
    out = subprocess.run(
        [sys.executable, "run.py", "--config", str(path), "--logs-dir", str(tmp_path / "logs")],
        cwd=repo_root, capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 2, out.stderr
    assert key in out.stderr and str(path) in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "logs").exists()
