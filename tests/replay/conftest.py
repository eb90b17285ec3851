"""Fixtures of the replay tests: recorded sessions (simulated and loopback-Alpaca), journals to damage, and run.py.

Recordings are made once per test session (in-process, engine.app.build) into their own temporary folders and
never changed; a test that damages a journal works on a copy. Helpers are handed out as fixtures, not imported
from here: tests/ has several conftest modules, and `from conftest import ...` would pick whichever came last.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import Config, SimConfig, parse_config
from engine.runner import Runner
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue
from tests.engine_run import run_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = date(2025, 7, 1)
FAKE_KEY, FAKE_SECRET = "PKFAKE123", "SKFAKE456"


def make_config(raw_default: dict[str, Any], logs: Path, **sections: Any) -> Config:
    raw = copy.deepcopy(raw_default)
    raw["logs_dir"] = str(logs)
    raw["risk"]["kill_file"] = str(logs.parent / "KILL")
    raw["report"] = {"html": False}  # the pages are tested in tests/reporting; here they only cost time
    for name, values in sections.items():
        if isinstance(values, dict):
            raw[name].update(values)
        else:
            raw[name] = values
    return parse_config(raw, "replay test config")


def journal_lines(path: Path) -> list[bytes]:
    """The journal's lines, each without its newline."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def records_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal_lines(path)]


@dataclass
class Recorded:
    """One recorded run: where its files are and what the engine said at the end."""

    logs: Path
    code: int
    runner: Runner

    def journal(self, day: date = DAY) -> Path:
        return self.logs / f"audit-{day:%Y%m%d}.jsonl"

    def report(self, day: date = DAY) -> dict[str, Any]:
        return json.loads((self.logs / f"report-{day:%Y%m%d}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def sim_day(tmp_path_factory, default_raw_config) -> Recorded:
    """The default configuration's simulated day (2025-07-01), recorded once. Do not modify its files."""
    logs = tmp_path_factory.mktemp("sim_day") / "logs"
    runner, code = run_engine(make_config(default_raw_config, logs))
    assert code == 0 and runner.finished
    return Recorded(logs, code, runner)


@pytest.fixture(scope="session")
def three_days(tmp_path_factory, default_raw_config) -> Recorded:
    """Three consecutive simulated sessions from 2025-07-01 (the equivalent of `run.py --days 3`)."""
    logs = tmp_path_factory.mktemp("three_days") / "logs"
    runner, code = run_engine(make_config(default_raw_config, logs, session={"days": 3}))
    assert code == 0 and runner.finished
    return Recorded(logs, code, runner)


@dataclass
class Loopback(Recorded):
    url: str = ""


@pytest.fixture(scope="session")
def loopback_day(tmp_path_factory, default_raw_config) -> Loopback:
    """A day traded with broker `alpaca` against a SimServer on 127.0.0.1 holding fake keys; the server is
    stopped before the fixture hands the recording out."""
    logs = tmp_path_factory.mktemp("loopback_day") / "logs"
    clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=ET))
    venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
    server = SimServer(venue, clock, api_key=FAKE_KEY, secret_key=FAKE_SECRET).start()
    url = server.url
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ALPACA_API_KEY", FAKE_KEY)
            mp.setenv("ALPACA_SECRET_KEY", FAKE_SECRET)
            mp.chdir(logs.parent)  # no stray .env of the checkout can supply keys
            cfg = make_config(
                default_raw_config,
                logs,
                broker="alpaca",
                alpaca={"trading_url": url, "data_url": url, "timeout_s": 5.0},
            )
            runner, code = run_engine(cfg)
    finally:
        server.stop()
    assert code == 0 and runner.finished
    return Loopback(logs, code, runner, url=url)


@pytest.fixture
def copy_journal(tmp_path) -> Callable[[Path], Path]:
    """copy_journal(path): a copy in this test's folder, free to damage."""

    def copy_(path: Path) -> Path:
        target = tmp_path / path.name
        shutil.copyfile(path, target)
        return target

    return copy_


@pytest.fixture(scope="session")
def run_py() -> Callable[..., subprocess.CompletedProcess]:
    """run_py(*args): `python run.py ARGS` in the checkout, output captured as text."""

    def run(*args: Any, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "run.py", *(str(a) for a in args)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """cli(*args): engine.cli.main in-process (for commands that leave logging alone): exit code, stdout, stderr."""
    from engine.cli import main

    def run(*args: Any) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """The module-level helpers of this conftest, for the tests to use."""
    return SimpleNamespace(
        make_config=make_config,
        run_engine=run_engine,
        records_of=records_of,
        journal_lines=journal_lines,
        DAY=DAY,
        FAKE_KEY=FAKE_KEY,
        FAKE_SECRET=FAKE_SECRET,
    )
