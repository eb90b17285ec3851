"""Where alert URLs come from (notify.urls, ZDTE_NOTIFY_URLS) and that their tokens stay secret: never in the journal
(its header's config masks them), the logs, the reports, the console or `check`; and what `run.py` itself sends:
the day drained before it exits, a start-up that fails before the engine exists."""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.alerts import alerts_for
from engine.app import session_header
from engine.cli import apply_overrides
from engine.config import NOTIFY_EVENTS, load_config, notify_urls, parse_config
from engine.errors import ConfigError
from tests.notify.conftest import Receiver, day_config, run_day

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKENS = ("TOKEN-of-the-good-one-1111", "TOKEN-of-the-dead-one-2222", "TOKEN-of-a-bogus-one-3333", "TOKEN-4444")


def _urls(receiver: Receiver, dead_url: str) -> list[str]:
    """A working URL, one nothing answers and two apprise cannot read (it logs the last one whole), each with a
    token in it."""
    return [receiver.url(f"/hook/{TOKENS[0]}"), f"{dead_url}/{TOKENS[1]}", f"bogus://{TOKENS[2]}", TOKENS[3]]


def _leaks(texts: dict[str, str], logs: Path) -> list[tuple[str, str]]:
    files = {str(p): p.read_bytes().decode(errors="replace") for p in logs.rglob("*") if p.is_file()}
    assert any(Path(name).name.startswith("audit-") for name in files)  # the run did write its files
    return [(name, t) for name, text in {**texts, **files}.items() for t in TOKENS if t in text]


def test_the_section_sends_every_event_by_default_and_no_url_means_no_alerts(repo_root: Path) -> None:
    cfg = load_config(repo_root / "config.yaml")
    assert cfg.notify.urls == () and cfg.notify.on == NOTIFY_EVENTS
    assert (cfg.notify.timeout_s, cfg.notify.retries) == (10.0, 3)
    assert alerts_for(cfg) is None


def test_a_bare_on_key_is_the_key_on_not_true(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("notify:\n  on: [fill, halt]\nrisk:\n  close_positions_on_shutdown: no\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.notify.on == ("fill", "halt") and cfg.risk.close_positions_on_shutdown is False


@pytest.mark.parametrize(
    ("text", "key"),
    [("notify:\n  url: [json://x]\n", "notify.url"), ("notify:\n  on: [fills]\n", "notify.on.0"),
     ("notify:\n  retries: -1\n", "notify.retries"), ("notify:\n  timeout_s: 0\n", "notify.timeout_s")],
)
def test_a_wrong_notify_key_or_value_is_refused_naming_it(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert key in str(info.value)


def test_a_url_is_masked_in_the_config_and_its_header_yet_survives_command_line_overrides(
    default_raw_config: dict[str, Any],
) -> None:
    raw = copy.deepcopy(default_raw_config)
    raw["notify"]["urls"] = [f"tgram://{TOKENS[0]}/12345"]
    cfg = parse_config(raw, "test")
    header = json.dumps(session_header(cfg, cfg.session.date))
    assert TOKENS[0] not in repr(cfg) + str(cfg) + header
    assert json.loads(header)["config"]["notify"]["urls"] == ["**********"]

    args = argparse.Namespace(sets=["strategy.short_delta=0.2"], date=None, days=2, seed=None, logs_dir=None,
                              config="config.yaml")
    overridden = apply_overrides(cfg, args)  # what run.py does to every config: dump, change, validate again
    assert overridden.session.days == 2 and notify_urls(overridden.notify) == [f"tgram://{TOKENS[0]}/12345"]


def test_zdte_notify_urls_replaces_the_config_urls_and_an_empty_one_leaves_them(
    default_raw_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    raw = copy.deepcopy(default_raw_config)
    raw["notify"]["urls"] = ["json://config.invalid/hook"]
    cfg = parse_config(raw, "test").notify
    dotenv = tmp_path / ".env"
    dotenv.write_text("ZDTE_NOTIFY_URLS=json://dotenv.invalid/hook\n", encoding="utf-8")

    mailto = "mailto://u:p@x.invalid?to=a@x.invalid,b@x.invalid"  # a comma inside a URL does not split it
    monkeypatch.setenv("ZDTE_NOTIFY_URLS", f"json://a.invalid/1, json://b.invalid/2\n{mailto}")
    assert notify_urls(cfg, dotenv) == ["json://a.invalid/1", "json://b.invalid/2", mailto]
    monkeypatch.setenv("ZDTE_NOTIFY_URLS", "")  # set, even empty, the environment wins over .env
    assert notify_urls(cfg, dotenv) == ["json://config.invalid/hook"]
    monkeypatch.delenv("ZDTE_NOTIFY_URLS")
    assert notify_urls(cfg, dotenv) == ["json://dotenv.invalid/hook"]


def test_config_urls_with_tokens_leave_no_token_in_the_journal_logs_or_reports(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver, dead_url: str
) -> None:
    logs = tmp_path / "logs"
    cfg = day_config(default_raw_config, logs, notify={"urls": _urls(receiver, dead_url), "retries": 0},
                     report={"html": True})
    alerts = alerts_for(cfg)
    assert alerts is not None
    runner = run_day(cfg, alerts)

    assert runner.exit_code == 0 and len(receiver.posts) == 4
    assert _leaks({}, logs) == []
    header = json.loads((logs / "audit-20250701.jsonl").read_text().splitlines()[0])
    assert header["config"]["notify"]["urls"] == ["**********"] * 4


def _run_py(tmp_path: Path, urls: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env["ZDTE_NOTIFY_URLS"] = urls
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )


def _config_file(tmp_path: Path, default_raw_config: dict[str, Any], urls: list[str]) -> Path:
    raw = copy.deepcopy(default_raw_config)
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path / "logs"), str(tmp_path / "KILL")
    raw["notify"].update(urls=urls, retries=0)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_run_py_sends_the_day_before_it_exits_and_no_token_reaches_the_console_or_its_files(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver, dead_url: str
) -> None:
    config = _config_file(tmp_path, default_raw_config, _urls(receiver, dead_url))
    done = _run_py(tmp_path, "", "--config", str(config), "-v")  # debug output on the console too

    assert done.returncode == 0, done.stderr[-3000:]
    assert [p["title"].split(" ")[1] for p in receiver.posts] == ["started", "trade", "trade", "2025-07-01"]
    assert receiver.posts[-1]["path"] == f"/hook/{TOKENS[0]}"
    assert "url 2 (json) after 1 attempt(s)" in done.stderr and "url 3 (bogus) is not a URL" in done.stderr
    assert "url 4 (no scheme) is not a URL" in done.stderr
    assert _leaks({"stdout": done.stdout, "stderr": done.stderr}, tmp_path / "logs") == []

    checked = _run_py(tmp_path, "", "check", "--config", str(config))
    assert checked.returncode == 1
    assert "[FAIL] alerts: url 3 (bogus), url 4 (no scheme): not a URL apprise can send to" in checked.stdout
    assert not [t for t in TOKENS if t in checked.stdout + checked.stderr]


def test_a_start_up_that_fails_before_the_engine_exists_is_told(
    tmp_path: Path, default_raw_config: dict[str, Any], receiver: Receiver
) -> None:
    config = _config_file(tmp_path, default_raw_config, ["json://127.0.0.1:9/replaced-by-the-environment"])
    done = _run_py(tmp_path, receiver.url(), "--config", str(config), "--set", "broker=alpaca")  # no keys anywhere

    assert done.returncode == 2 and "ALPACA_API_KEY" in done.stderr
    [post] = receiver.posts
    assert post["title"] == "zdte: start-up failed" and "missing ALPACA_API_KEY" in post["message"]
