"""Secret hygiene: the Alpaca keys reach the server and nothing else.

Loopback runs (`run.py --config <loopback yaml>` as a process against `run.py serve-sim` or a SimServer on
127.0.0.1) with fake keys must leave neither key in any file under the logs dir nor in any process output:
after a full day, after a start refused for wrong keys, with -v debug logging, and with keys from `.env`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PY = str(REPO_ROOT / "run.py")
DAY = date(2025, 7, 1)
KEY, SECRET = "PKFAKEKEY123456", "fakeSecretValue987654"


def _env(**keys: str) -> dict[str, str]:
    """The environment without any Alpaca key of the machine's, plus `keys`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env.update(keys)
    return env


def _config(tmp: Path, url: str) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    raw["logs_dir"] = str(tmp / "logs")
    raw["risk"].update(kill_file=str(tmp / "KILL"), hard_exit="11:00")  # a short day: entry, then the hard exit
    raw["strategy"]["entry_end"] = "10:30"
    raw["alpaca"].update(trading_url=url, data_url=url, timeout_s=60)
    path = tmp / "loopback.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _engine(config: Path, cwd: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, RUN_PY, "--config", str(config), *flags],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_no_secret(logs: Path, outputs: dict[str, str], secrets: tuple[str, ...]) -> None:
    """No secret in any output, nor in any file under `logs` (journal, logs, report, .torn, whatever is there)."""
    files = sorted(p for p in logs.rglob("*") if p.is_file())
    assert any(p.name.startswith("audit-") for p in files), files  # the run did write its files
    leaks = [(name, s) for name, text in outputs.items() for s in secrets if s in text]
    leaks += [(str(p), s) for p in files for s in secrets if s.encode() in p.read_bytes()]
    assert leaks == []


@pytest.fixture
def sim_server() -> Iterator[SimServer]:
    """A SimServer on 127.0.0.1 that accepts the fake keys only."""
    clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=ET))
    venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
    server = SimServer(venue, clock, api_key=KEY, secret_key=SECRET).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def serve_sim(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`run.py serve-sim` as a process holding the fake keys (from its environment); stopped by its pid."""
    proc = subprocess.Popen(
        [sys.executable, RUN_PY, "serve-sim", "--port", "0", "--date", DAY.isoformat()],
        cwd=tmp_path,
        env=_env(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    info: dict[str, Any] = {"proc": proc}
    try:
        first = proc.stdout.readline()
        assert "http://127.0.0.1:" in first, first + proc.stderr.read()
        info["url"] = first.strip().rsplit(" ", 1)[-1]
        info["first"] = first
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_loopback_day_through_serve_sim_leaves_no_key(tmp_path: Path, serve_sim: dict[str, Any]) -> None:
    config = _config(tmp_path, serve_sim["url"])
    run = _engine(config, tmp_path, _env(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "1 trade(s)" in run.stdout and "hard exit" in run.stderr  # a real day: entry, fills, an exit

    proc = serve_sim["proc"]
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    server_out = serve_sim["first"] + proc.stdout.read()
    server_err = proc.stderr.read()
    assert "POST /v2/orders" in server_out  # the engine did trade through it
    outputs = {"engine stdout": run.stdout, "engine stderr": run.stderr, "server stdout": server_out}
    outputs["server stderr"] = server_err
    _assert_no_secret(tmp_path / "logs", outputs, (KEY, SECRET))


def test_start_refused_for_wrong_keys_with_debug_logging_leaves_no_key(tmp_path: Path, sim_server: SimServer) -> None:
    wrong = ("PKWRONGKEY000111", "wrongSecretValue222333")
    config = _config(tmp_path, sim_server.url)
    run = _engine(config, tmp_path, _env(ALPACA_API_KEY=wrong[0], ALPACA_SECRET_KEY=wrong[1]), "-v")

    assert run.returncode == 2, run.stderr[-3000:]
    assert "HTTP 401" in run.stderr and "ALPACA_API_KEY" in run.stderr
    api = [e for e in sim_server.request_log if e["path"] != "/sim/info"]  # /sim/info answers without keys
    assert api and all(e["status"] == 401 for e in api)
    _assert_no_secret(tmp_path / "logs", {"stdout": run.stdout, "stderr": run.stderr}, (*wrong, KEY, SECRET))


def test_keys_from_dotenv_are_used_and_not_leaked_with_debug_logging(tmp_path: Path, sim_server: SimServer) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".env").write_text(f"ALPACA_API_KEY={KEY}\nALPACA_SECRET_KEY={SECRET}\n", encoding="utf-8")
    config = _config(tmp_path, sim_server.url)
    run = _engine(config, work, _env(), "-v")

    assert run.returncode == 0, run.stderr[-3000:]
    assert "DEBUG" in run.stderr  # -v is on
    log = sim_server.request_log
    assert any(e["path"] == "/v2/orders" and e["method"] == "POST" and e["status"] == 200 for e in log)
    assert all(e["status"] != 401 for e in log)  # the server takes nothing but the .env keys
    _assert_no_secret(tmp_path / "logs", {"stdout": run.stdout, "stderr": run.stderr}, (KEY, SECRET))
    assert not any(KEY in p.read_text(errors="replace") for p in work.rglob("*") if p.name != ".env")
