"""Shutdown, kill switch and abort, over loopback: `run.py --config <loopback yaml>` as a process against a
SimServer on 127.0.0.1 started by the test.

Timing: the server holds the engine's clock still. Once simulated time reaches HOLD_AT, its next
POST /sim/advance is answered only when the test lets it go, so every signal lands at a known moment of the
simulated day (Monitoring, with the default strategy's condor open) whatever the machine's speed. No sleeps:
only events, GET /sim/info and generous timeouts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.journal.audit import read_journal
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = date(2025, 7, 1)
KEY, SECRET = "PKFAKEKEY123456", "fakeSecretValue987654"
HOLD_AT = datetime(2025, 7, 1, 10, 10, tzinfo=ET)
"""With loopback.yaml's strategy and seed the condor is open from 10:00:55 to 13:36 (spread stop)."""
HALTED_POLL_S = 300
"""A halted engine only waits for the hard exit: a longer poll keeps the tests short."""
WAIT_S = 30.0


class GatedServer(SimServer):
    """A SimServer that stops simulated time at `hold_at` and, once `hold_orders` is set, holds order posts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold_at: datetime | None = None
        self.clock_held = threading.Event()
        self.clock_go = threading.Event()
        self.hold_orders = False
        self.order_held = threading.Event()
        self.orders_go = threading.Event()

    def _serve(self, handler: Any, method: str) -> None:
        path = urlsplit(handler.path).path
        if method == "POST" and path == "/sim/advance" and self.hold_at is not None and not self.clock_go.is_set():
            with self._lock:
                due = self.clock.now() >= self.hold_at
            if due:
                self.clock_held.set()
                self.clock_go.wait(WAIT_S)
        elif method == "POST" and path == "/v2/orders" and self.hold_orders:
            self.order_held.set()
            self.orders_go.wait(WAIT_S)
        super()._serve(handler, method)

    def release(self) -> None:
        self.clock_go.set()
        self.orders_go.set()


class Loopback:
    """One gated server, one engine process, and what they leave behind."""

    def __init__(self, tmp: Path) -> None:
        clock = SimClock(datetime(DAY.year, DAY.month, DAY.day, 9, 0, tzinfo=ET))
        venue = SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar())
        self.server = GatedServer(venue, clock, api_key=KEY, secret_key=SECRET).start()
        self.server.hold_at = HOLD_AT
        self.tmp = tmp
        self.logs = tmp / "logs"
        self.kill_file = tmp / "KILL"
        self.proc: subprocess.Popen[str] | None = None
        self.headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
        self.raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))

    def start(self, **risk: Any) -> subprocess.Popen[str]:
        raw = self.raw
        raw["logs_dir"] = str(self.logs)
        raw["risk"].update(kill_file=str(self.kill_file), **risk)
        raw["poll"]["halted"] = HALTED_POLL_S
        raw["alpaca"].update(trading_url=self.server.url, data_url=self.server.url, timeout_s=60)
        config = self.tmp / "loopback.yaml"
        config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
        env.update(ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET)
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "run.py"), "--config", str(config)],
            cwd=self.tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self.proc

    def sim_now(self) -> datetime:
        r = requests.get(f"{self.server.url}/sim/info", headers=self.headers, timeout=10)
        return datetime.fromisoformat(r.json()["now"])

    def held(self) -> datetime:
        """Wait until the engine is stopped at HOLD_AT; the simulated time it is held at."""
        if not self.server.clock_held.wait(WAIT_S):
            assert self.proc is not None
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"the engine never reached {HOLD_AT:%H:%M}: exit {self.proc.returncode}\n{err[-3000:]}")
        now = self.sim_now()
        assert now >= HOLD_AT
        return now

    def finish(self) -> tuple[int, str, str]:
        assert self.proc is not None
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err

    def records(self) -> list[dict[str, Any]]:
        records, problems = read_journal(self.logs / f"audit-{DAY:%Y%m%d}.jsonl")
        assert problems == [], problems
        return records

    def moves(self, **match: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records()
            if r["kind"] == "transition" and all(r.get(k) == v for k, v in match.items())
        ]

    def report(self) -> dict[str, Any]:
        return json.loads((self.logs / f"report-{DAY:%Y%m%d}.json").read_text(encoding="utf-8"))

    def positions(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.server.url}/v2/positions", headers=self.headers, timeout=10).json()

    def order_posts(self, since: datetime) -> list[dict[str, Any]]:
        """POST /v2/orders the server saw at or after simulated time `since`."""
        return [
            e
            for e in self.server.request_log
            if e["method"] == "POST" and e["path"] == "/v2/orders" and datetime.fromisoformat(e["sim_time"]) >= since
        ]

    def exit_submits(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["kind"] == "order" and r["event"] == "submit" and r["purpose"] == "exit"]

    def close(self) -> None:
        self.server.release()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.server.stop()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loopback]:
    lb = Loopback(tmp_path)
    try:
        yield lb
    finally:
        lb.close()


def _assert_one_combo_exit(lb: Loopback, since: datetime, why: str) -> None:
    """The condor was closed by one four-leg order, and it filled."""
    posts = lb.order_posts(since)
    assert len(posts) == 1, posts
    (submit,) = lb.exit_submits()
    assert submit["client_order_id"] == posts[0]["client_order_id"]
    assert len(submit["legs"]) == 4
    assert lb.positions() == []
    report = lb.report()
    assert report["open_at_end"] == []
    assert [t["exit_reason"] for t in report["trades"]] == [why]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_signal_mid_day_closes_the_condor_as_one_order(loop: Loopback, sig: signal.Signals) -> None:
    loop.start(close_positions_on_shutdown=True)
    at = loop.held()
    loop.proc.send_signal(sig)
    loop.server.release()
    code, out, err = loop.finish()

    assert code == 3, err[-3000:]  # interrupted: a stopped run never looks finished
    assert f"INTERRUPTED ({sig.name} received)" in out
    (move,) = loop.moves(trigger="shutdown")
    assert (move["source"], move["dest"], move["reason"]) == ("Monitoring", "ShuttingDown", f"{sig.name} received")
    assert (datetime.fromisoformat(move["ts"]) - at).total_seconds() <= loop.raw["poll"]["monitoring"]
    _assert_one_combo_exit(loop, at, "close_positions_on_shutdown")
    assert f"report {(loop.logs / 'report-20250701.json').relative_to(loop.tmp)}" in out  # as seen from its cwd


def test_sigterm_with_close_on_shutdown_off_leaves_the_condor_open(loop: Loopback) -> None:
    loop.start(close_positions_on_shutdown=False)
    at = loop.held()
    loop.proc.send_signal(signal.SIGTERM)
    loop.server.release()
    code, _out, err = loop.finish()

    assert code == 3, err[-3000:]
    (move,) = loop.moves(trigger="shutdown")
    assert (move["source"], move["dest"], move["reason"]) == ("Monitoring", "ShuttingDown", "SIGTERM received")
    assert loop.order_posts(at) == [] and loop.exit_submits() == []
    held = {p["symbol"]: int(p["qty"]) for p in loop.positions()}
    (spread,) = loop.report()["open_at_end"]
    assert {leg.split(":")[1]: (1 if leg.startswith("buy") else -1) for leg in spread["legs"]} == held
    assert loop.report()["trades"] == []


@pytest.mark.parametrize("how", ["SIGUSR1", "kill file"])
def test_kill_switch_mid_day_halts_and_flattens(loop: Loopback, how: str) -> None:
    loop.start()
    at = loop.held()
    if how == "SIGUSR1":
        loop.proc.send_signal(signal.SIGUSR1)
        reason = "kill switch: SIGUSR1"
    else:
        loop.kill_file.touch()
        reason = f"kill switch: file {loop.kill_file}"
    loop.server.release()
    code, _out, err = loop.finish()

    assert code == 0, err[-3000:]
    (halt,) = loop.moves(trigger="halt")
    assert (halt["source"], halt["dest"], halt["reason"]) == ("Monitoring", "Halted", reason)
    assert (datetime.fromisoformat(halt["ts"]) - at).total_seconds() <= loop.raw["poll"]["monitoring"]
    _assert_one_combo_exit(loop, at, f"flatten: {reason}")
    assert loop.moves()[-1]["dest"] == "ShuttingDown"


def test_kill_file_present_at_start_refuses_to_trade(loop: Loopback) -> None:
    loop.kill_file.touch()
    loop.start()
    code, out, err = loop.finish()

    assert code == 2
    assert f"kill file {loop.kill_file} exists" in err and "Traceback" not in err + out
    assert sum(loop.server.request_counts.values()) == 0
    assert not (loop.logs / f"audit-{DAY:%Y%m%d}.jsonl").exists()


def test_second_sigint_during_cleanup_aborts_at_once_with_one_journal_record(loop: Loopback) -> None:
    loop.start(close_positions_on_shutdown=True)
    loop.held()
    loop.proc.send_signal(signal.SIGINT)
    loop.server.hold_orders = True  # the flatten's order post hangs: cleanup is still going on
    loop.server.clock_go.set()
    assert loop.server.order_held.wait(WAIT_S), "the engine never tried to flatten"
    loop.proc.send_signal(signal.SIGINT)
    code, _out, err = loop.finish()

    assert code == 130, err[-3000:]
    journal = loop.logs / f"audit-{DAY:%Y%m%d}.jsonl"
    assert journal.read_bytes().endswith(b"\n")
    records = loop.records()
    assert records[-1]["kind"] == "abort"
    assert "second SIGINT" in records[-1]["reason"]
    assert sum(r["kind"] == "abort" for r in records) == 1
    assert loop.moves()[-1]["reason"] == "SIGINT received"
    verify = subprocess.run(
        [sys.executable, str(REPO_ROOT / "run.py"), "journal", "verify", str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0 and ": ok:" in verify.stdout, verify.stdout + verify.stderr
