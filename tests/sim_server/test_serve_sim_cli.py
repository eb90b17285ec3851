"""`run.py serve-sim`: the parser's options and a real process serving REST and streams until SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import msgpack
import requests
from websockets.sync.client import connect

from engine.cli import COMMANDS, parser

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_parser_knows_serve_sim() -> None:
    assert "serve-sim" in COMMANDS
    args = parser().parse_args(
        ["serve-sim", "--port", "8123", "--date", "2025-07-02", "--seed", "3", "--fault-rate", "0.1"]
        + ["--config", "config.yaml", "--slow-seconds", "0.5", "--stream-port", "8124"]
    )
    assert (args.command, args.port, args.date, args.seed) == ("serve-sim", 8123, date(2025, 7, 2), 3)
    assert (args.fault_rate, args.config, args.slow_seconds, args.stream_port) == (0.1, Path("config.yaml"), 0.5, 8124)
    defaults = parser().parse_args(["serve-sim"])
    assert (defaults.port, defaults.date, defaults.seed, defaults.fault_rate) == (0, date(2025, 7, 1), None, 0.0)
    assert defaults.stream_port == 0


def test_serve_sim_serves_until_sigint_and_prints_counts() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")}
    proc = subprocess.Popen(
        [sys.executable, "run.py", "serve-sim", "--date", "2025-07-03", "--seed", "5"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "http://127.0.0.1:" in first, first + proc.stderr.read()
        url = first.strip().rsplit(" ", 1)[-1]
        headers = {"APCA-API-KEY-ID": "zdte-sim-key", "APCA-API-SECRET-KEY": "zdte-sim-secret"}
        info = requests.get(f"{url}/sim/info", headers=headers, timeout=5).json()
        assert info["simulator"] is True and info["now"] == "2025-07-03T09:00:00-04:00"
        banner = "".join(proc.stdout.readline() for _ in range(3))
        assert all(info["streams"][feed] in banner for feed in ("iex", "sip", "indicative", "opra", "trading"))
        with connect(info["streams"]["indicative"], additional_headers={"Content-Type": "application/msgpack"}) as ws:
            assert msgpack.unpackb(ws.recv(timeout=5)) == [{"T": "success", "msg": "connected"}]
            ws.send(msgpack.packb({"action": "auth", "key": "zdte-sim-key", "secret": "zdte-sim-secret"}))
            assert msgpack.unpackb(ws.recv(timeout=5)) == [{"T": "success", "msg": "authenticated"}]
        assert (
            requests.get(f"{url}/v2/clock", headers=headers, timeout=5)
            .json()["next_close"]
            .startswith("2025-07-03T13:00")
        )
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        out, err = proc.stdout.read(), proc.stderr.read()  # not communicate(): readline() buffered the rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "zdte-sim-key" in first + out  # simulator keys are printed for pasting
    assert "GET /sim/info" in out and "GET /v2/clock" in out and "total" in out
