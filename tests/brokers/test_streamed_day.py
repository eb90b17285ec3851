"""A whole loopback day on streams against the polled day of the same seed, and a streamed day under stream faults.

The engine runs with broker alpaca and the real alpaca-py clients (REST and the three stream clients) against
serve-sim on 127.0.0.1. The streamed day must trade as the polled one does (the simulated market changes only
at minute boundaries, which both runs' steps fall on: neither sees a price before the other), replay identically
from its journal, and ask REST at most once a minute while it holds a condor. Under faults (a silent option
stream, a dropped stock stream, 406 refusals, a trading stream that hears nothing during the entry) it must fall
back to REST, journal the switch, come back, and book each fill once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.app import SIM_START, alpaca
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import Config, parse_config
from engine.journal.replay import verify
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue
from tests.engine_run import run_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
Faults = Callable[[SimServer, datetime], None]


def _day(
    tmp: Path, keys: dict[str, str], source: str, faults: Faults | None = None, on: date | None = None
) -> dict[str, Any]:
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    if on is not None:
        raw["session"]["date"] = on
    raw["risk"]["kill_file"] = str(tmp / "KILL")
    raw["data"]["source"] = source
    day = raw["session"]["date"]
    clock = SimClock(datetime.combine(day, SIM_START, tzinfo=ET))
    sim_raw = copy.deepcopy(raw)
    sim_raw.update(broker="sim", data={**raw["data"], "source": None})
    sim_cfg = parse_config(sim_raw, "the simulator's market")
    venue = SimVenue(sim_cfg.sim, sim_cfg.underlying, clock, ExchangeCalendar())
    server = SimServer(
        venue, clock, api_key=keys["ALPACA_API_KEY"], secret_key=keys["ALPACA_SECRET_KEY"], streams=True
    ).start()
    assert server.streams is not None
    server.streams.auth_timeout = 10.0
    try:
        raw.update(logs_dir=str(tmp / source))
        raw["alpaca"].update(trading_url=server.url, data_url=server.url)
        cfg = parse_config(raw, f"{source} run")
        with pytest.MonkeyPatch.context() as mp:
            for name, value in keys.items():
                mp.setenv(name, value)
            adapters = alpaca(cfg)
            if adapters.feed is not None:
                for client in adapters.feed._clients.values():  # alpaca-py waits 0.5-1 s to reconnect: no need
                    client._reconnect_min_backoff = 0.05
            if faults is not None:
                sleep = adapters.clock.sleep

                def sleep_then_faults(seconds: float, events: bool = False) -> None:
                    sleep(seconds, events)
                    faults(server, adapters.clock.now())

                adapters.clock.sleep = sleep_then_faults  # type: ignore[method-assign]
            runner, code = run_engine(cfg, adapters)
    finally:
        server.stop()
    journal = cfg.logs_dir / f"audit-{cfg.session.date:%Y%m%d}.jsonl"
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    return {"code": code, "records": records, "journal": journal, "log": server.request_log, "cfg": cfg}


@pytest.fixture(scope="module")
def days(tmp_path_factory, keys) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("streamed_day")
    return {source: _day(tmp, keys, source) for source in ("poll", "stream")}


def _trades(records: list[dict]) -> list[tuple]:
    return [(r["trade_no"], tuple(r["strikes"]), r["ts"]) for r in records if r["kind"] == "opened"] + [
        (r["trade_no"], r["exit_reason"], r["ts"], r["pnl"]) for r in records if r["kind"] == "closed"
    ]


def _moves(records: list[dict]) -> list[tuple]:
    return [(r["trigger"], r["source"], r["dest"], r["ts"]) for r in records if r["kind"] == "transition"]


def _feed(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["stream"], r["source"]) for r in records if r["kind"] == "feed"]


def test_the_streamed_day_trades_exactly_as_the_polled_day(days) -> None:
    poll, stream = days["poll"], days["stream"]
    assert poll["code"] == stream["code"] == 0
    assert _trades(poll["records"]), "the day trades: something to compare"
    assert _trades(stream["records"]) == _trades(poll["records"])
    assert _moves(stream["records"]) == _moves(poll["records"])
    assert _feed(poll["records"]) == [], "a polled run has no streams to switch"


def test_on_streams_the_same_trade_exits_when_the_stop_is_crossed_not_at_the_next_poll(tmp_path, keys) -> None:
    """2025-07-03 (seed 7): one condor, stopped out. The polled run sees the crossing at its next poll, on the
    grid its entry set (:25 and :55 of each minute); the streamed run on the quote of the minute that crosses.
    Same entry, same stop, same P&L; the streamed exit is sooner, never later."""
    poll, stream = (_day(tmp_path, keys, source, on=date(2025, 7, 3)) for source in ("poll", "stream"))
    opened = [[(r["trade_no"], r["strikes"], r["ts"]) for r in d["records"] if r["kind"] == "opened"]
              for d in (poll, stream)]
    closed = [[r for r in d["records"] if r["kind"] == "closed"] for d in (poll, stream)]
    assert opened[0] == opened[1] and len(opened[0]) == 1
    (polled,), (streamed,) = closed
    assert streamed["exit_reason"] == polled["exit_reason"] and streamed["exit_reason"].startswith("spread stop")
    assert streamed["pnl"] == polled["pnl"]
    lead = datetime.fromisoformat(polled["ts"]) - datetime.fromisoformat(streamed["ts"])
    assert timedelta(0) < lead <= timedelta(seconds=30), "at most one poll interval sooner"


def test_the_streamed_day_runs_on_its_streams(days) -> None:
    assert sorted(_feed(days["stream"]["records"])) == [
        ("options", "stream"), ("stocks", "stream"), ("trading", "stream")
    ], "each stream taken up once, and none lost on a sound day"
    paths = {e["path"] for e in days["stream"]["log"]}
    assert "/v2/stocks/bars" in {e["path"] for e in days["poll"]["log"]}
    assert "/v2/stocks/bars" in paths, "the first look back still comes by REST"


def _monitoring_minutes(records: list[dict]) -> list[tuple[datetime, datetime]]:
    spans, since = [], None
    for r in records:
        if r["kind"] != "transition":
            continue
        if r["dest"] == "Monitoring":
            since = datetime.fromisoformat(r["ts"])
        elif r["source"] == "Monitoring" and since is not None:
            spans.append((since, datetime.fromisoformat(r["ts"])))
            since = None
    return spans


def _rest_per_minute_holding(day: dict[str, Any]) -> float:
    """REST requests per simulated minute while a condor is held and no order is being worked."""
    spans = _monitoring_minutes(day["records"])
    orders = {e["sim_time"][:16] for e in day["log"] if "/orders" in e["path"]}
    minutes = asked = 0
    for lo, hi in spans:
        t = lo + timedelta(minutes=2)  # after the entry's own order work
        while t + timedelta(minutes=1) <= hi - timedelta(minutes=1):
            key = t.isoformat()[:16]
            if key not in orders:
                minutes += 1
                asked += sum(
                    1 for e in day["log"] if e["sim_time"][:16] == key and not e["path"].startswith("/sim/")
                )
            t += timedelta(minutes=1)
    assert minutes > 30, "long enough a hold to measure"
    return asked / minutes


def test_holding_a_condor_costs_at_most_one_request_a_minute_on_streams(days) -> None:
    polled, streamed = _rest_per_minute_holding(days["poll"]), _rest_per_minute_holding(days["stream"])
    assert streamed <= 1.0 < polled


def test_the_streamed_day_replays_identically(days) -> None:
    verdicts = verify(days["stream"]["journal"])
    assert [v.identical for v in verdicts] == [True], verdicts[0].detail


def test_each_fill_is_booked_once_though_the_stream_and_rest_both_tell_it(days) -> None:
    records = days["stream"]["records"]
    drains = [c for r in records if r["kind"] == "input" for c in r["calls"] if c[0] == "drain" and len(c) == 3]
    told = [oid for c in drains if c[2] for oid in c[2][2]]
    assert told, "the trading stream told the engine about its orders"
    opened = [r for r in records if r["kind"] == "opened"]
    closed = [r for r in records if r["kind"] == "closed"]
    assert [r["qty"] for r in opened] == [1] and [r["qty"] for r in closed] == [1]


# --- faults ----------------------------------------------------------------------------------------------------


def _at(hhmm: str, day: Config) -> datetime:
    h, m = map(int, hhmm.split(":"))
    assert day.session.date is not None
    return datetime(day.session.date.year, day.session.date.month, day.session.date.day, h, m, tzinfo=ET)


class Schedule:
    """Faults injected at simulated times, each once, after the engine's clock passes them."""

    def __init__(self, cfg: Config, steps: list[tuple[str, Callable[[SimServer], None]]]) -> None:
        self.steps = [(_at(t, cfg), fn) for t, fn in steps]

    def __call__(self, server: SimServer, now: datetime) -> None:
        while self.steps and now >= self.steps[0][0]:
            self.steps.pop(0)[1](server)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, keys) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("streamed_faults")
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    cfg = parse_config({**raw, "broker": "sim"}, "times")

    def streams(server: SimServer) -> Any:
        assert server.streams is not None
        return server.streams

    schedule = Schedule(
        cfg,
        [
            ("09:59", lambda s: streams(s).silence("/stream")),  # the entry fills while the trading stream is mute
            ("10:05", lambda s: streams(s).clear()),
            ("11:00", lambda s: streams(s).silence("/v1beta1/indicative")),
            ("11:05", lambda s: streams(s).clear()),
            ("12:00", lambda s: streams(s).refuse("/v2/iex", times=2)),
            ("12:00", lambda s: streams(s).drop("/v2/iex")),
        ],
    )
    return _day(tmp, keys, "stream", schedule)


def test_a_silent_option_stream_hands_over_to_rest_and_takes_back_when_it_delivers(faulty) -> None:
    feed = [(r["ts"][11:16], r["stream"], r["source"], r["reason"]) for r in faulty["records"] if r["kind"] == "feed"]
    options = [f for f in feed if f[1] == "options"]
    assert [f[2] for f in options] == ["stream", "poll", "stream"], feed
    assert options[1][3].startswith("connected but silent for "), options
    assert "11:01" <= options[1][0] <= "11:03" and "11:05" <= options[2][0] <= "11:07", options
    rest_quotes = [e for e in faulty["log"] if e["path"] == "/v1beta1/options/snapshots"]
    assert any("11:02" <= e["sim_time"][11:16] <= "11:06" for e in rest_quotes), "REST quoted the legs meanwhile"


def test_a_dropped_and_refused_stock_stream_reconnects_and_streams_again(faulty) -> None:
    feed = [(r["ts"][11:16], r["stream"], r["source"], r["reason"]) for r in faulty["records"] if r["kind"] == "feed"]
    stocks = [f for f in feed if f[1] == "stocks"]
    assert [f[2] for f in stocks] == ["stream", "poll", "stream"], feed
    assert "connection" in stocks[1][3], stocks


def test_the_fill_heard_only_by_rest_is_booked_once_and_the_day_trades_as_without_faults(faulty, days) -> None:
    assert faulty["code"] == 0
    assert _trades(faulty["records"]) == _trades(days["poll"]["records"])


def test_the_faulty_day_replays_identically_fallbacks_included(faulty) -> None:
    verdicts = verify(faulty["journal"])
    assert [v.identical for v in verdicts] == [True], verdicts[0].detail
