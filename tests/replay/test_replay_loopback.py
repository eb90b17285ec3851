"""A day traded through the real alpaca-py clients against serve-sim on 127.0.0.1, replayed with no server.

Also: the fake keys the run was given appear in none of the files it wrote.
"""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
import requests

from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import SimConfig
from engine.journal.recording import recorded_calls
from engine.journal.replay import OUTPUT_KINDS, verify
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue


def test_the_loopback_day_traded_and_recorded_alpaca_calls(loopback_day, helpers) -> None:
    records = helpers.records_of(loopback_day.journal())
    header = records[0]
    assert header["broker"] == "alpaca" and header["config"]["alpaca"]["trading_url"] == loopback_day.url
    assert loopback_day.url.startswith("http://127.0.0.1:")
    fills = [r for r in records if r["kind"] == "order" and r["event"] == "fill"]
    assert fills, "the loopback day should have traded"
    calls = {(c["port"], c["method"]) for _, _, c in recorded_calls(records)}
    assert {("broker", "submit_order"), ("market_data", "bars"), ("market_data", "chain")} <= calls


def test_loopback_journal_replays_identically_with_no_server(loopback_day, helpers, monkeypatch) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{loopback_day.url}/sim/info", timeout=2)  # the server is gone

    def no_network(*args, **kwargs):
        raise AssertionError(f"replay tried to open a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    [verdict] = verify(loopback_day.journal())
    assert verdict.identical, verdict.message
    records = helpers.records_of(loopback_day.journal())
    assert verdict.compared == sum(r["kind"] in OUTPUT_KINDS for r in records)


def test_fake_keys_never_reach_a_file(loopback_day, helpers) -> None:
    files = sorted(p for p in loopback_day.logs.rglob("*") if p.is_file())
    names = {p.name for p in files}
    day = f"{helpers.DAY:%Y%m%d}"
    assert {f"audit-{day}.jsonl", f"engine-{day}.log", f"trades-{day}.log", f"report-{day}.json"} <= names
    for path in files:
        data = path.read_bytes()
        for secret in (helpers.FAKE_KEY, helpers.FAKE_SECRET):
            assert secret.encode() not in data, f"{secret} written to {path.name}"


def test_refused_keys_are_journaled_without_the_keys_and_replay_the_same_failure(
    tmp_path, default_raw_config, helpers, monkeypatch
) -> None:
    """Wrong keys: the 401 is recorded as an AuthError (not transient) and raised again on replay; the keys the
    engine sent appear nowhere in its files."""
    day = helpers.DAY
    clock = SimClock(datetime(day.year, day.month, day.day, 9, 0, tzinfo=ET))
    server = SimServer(
        SimVenue(SimConfig(), "SPY", clock, ExchangeCalendar()), clock, api_key="PKRIGHT1", secret_key="SKRIGHT2"
    ).start()
    url = server.url
    logs = tmp_path / "logs"
    try:
        monkeypatch.setenv("ALPACA_API_KEY", helpers.FAKE_KEY)
        monkeypatch.setenv("ALPACA_SECRET_KEY", helpers.FAKE_SECRET)
        monkeypatch.chdir(tmp_path)
        cfg = helpers.make_config(
            default_raw_config, logs, broker="alpaca", alpaca={"trading_url": url, "data_url": url, "timeout_s": 5.0}
        )
        runner, code = helpers.run_engine(cfg)
    finally:
        server.stop()
    assert code == 2 and runner.finished
    journal = logs / f"audit-{day:%Y%m%d}.jsonl"
    records = helpers.records_of(journal)
    failed = [c for _, _, c in recorded_calls(records) if "error" in c]
    assert failed and failed[0]["error"]["type"] == "AuthError" and failed[0]["error"]["transient"] is False
    assert [(r["source"], r["dest"], r["trigger"]) for r in records if r["kind"] == "transition"] == [
        ("Initializing", "ShuttingDown", "fail")
    ]
    [verdict] = verify(journal)
    assert verdict.identical, verdict.message
    for path in (p for p in logs.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert helpers.FAKE_KEY.encode() not in data and helpers.FAKE_SECRET.encode() not in data, path.name
