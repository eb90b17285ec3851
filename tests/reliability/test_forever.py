"""The daemon: `run.py --config <loopback yaml> --forever` trades session after session on serve-sim's clock, across
a weekend, until SIGTERM stops it with the interrupted exit code.

The server holds its clock once simulated time reaches Tuesday 09:00 (its next POST /sim/advance waits for the
test), so the signal lands at a known moment whatever the machine's speed. No sleeps: events and timeouts only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.journal.audit import read_journal
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "PKFAKEKEY123456", "fakeSecretValue987654"
FRIDAY = datetime(2025, 7, 11, 9, 0, tzinfo=ET)
HOLD_AT = datetime(2025, 7, 15, 9, 0, tzinfo=ET)
WAIT_S = 60.0


class HeldServer(SimServer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held = threading.Event()
        self.go = threading.Event()

    def _serve(self, handler: Any, method: str) -> None:
        if method == "POST" and urlsplit(handler.path).path == "/sim/advance" and not self.go.is_set():
            with self._lock:
                due = self.clock.now() >= HOLD_AT
            if due:
                self.held.set()
                self.go.wait(WAIT_S)
        super()._serve(handler, method)


def test_forever_trades_friday_and_monday_and_stops_interrupted_on_sigterm(tmp_path: Path) -> None:
    clock = SimClock(FRIDAY)
    server = HeldServer(SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar()), clock, api_key=KEY, secret_key=SECRET)
    server.start()
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    logs = tmp_path / "logs"
    raw["logs_dir"] = str(logs)
    raw["session"]["date"] = FRIDAY.date().isoformat()
    raw["report"] = {"html": False}
    raw["alpaca"].update(trading_url=server.url, data_url=server.url, timeout_s=60)
    config = tmp_path / "daemon.yaml"
    config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env.update(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET)
    proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "run.py"), "--config", str(config), "--forever"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        reached = server.held.wait(WAIT_S * 2)
        if not reached:
            proc.kill()
        assert reached, f"the daemon never reached Tuesday: {proc.communicate()[1][-3000:]}"
        proc.send_signal(signal.SIGTERM)
        server.go.set()
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        server.go.set()
        server.stop()
    assert proc.returncode == 3, err[-3000:]
    assert "INTERRUPTED (SIGTERM received): a run until stopped; exit code 3" in out
    journals = sorted(p.name for p in logs.glob("audit-*.jsonl"))
    assert journals == ["audit-20250711.jsonl", "audit-20250714.jsonl", "audit-20250715.jsonl"], "no weekend files"
    for day in ("20250711", "20250714"):
        report = json.loads((logs / f"report-{day}.json").read_text())
        assert report["open_at_end"] == [] and report["session"] is not None
        last = [r for r in read_journal(logs / f"audit-{day}.jsonl")[0] if r["kind"] == "transition"][-1]
        assert (last["trigger"], last["dest"]) == ("session_end", "AwaitingOpen"), "the session ran to its end"
    tuesday = read_journal(logs / "audit-20250715.jsonl")[0]
    moves = [r for r in tuesday if r["kind"] == "transition"]
    assert moves[-1]["dest"] == "ShuttingDown" and moves[-1]["reason"] == "SIGTERM received"
    orders = [r for r in tuesday if r["kind"] == "order"]
    sent = {r["client_order_id"] for r in orders if r["event"] == "submit"}
    assert sent <= {r["client_order_id"] for r in orders if r["event"] in ("cancel", "fill")}, "nothing left working"
    assert json.loads((logs / "report-20250715.json").read_text())["open_at_end"] == []
