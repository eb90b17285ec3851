"""A whole simulated day over loopback: the engine with broker alpaca (real alpaca-py, real sockets) against the
SimServer of the same market must decide exactly what the in-process simulated run (broker sim) decides.

Both runs share the config, seed and date of examples/loopback.yaml; only the broker differs. Any difference in
the transitions or the trades is a difference in what the adapter makes of Alpaca's JSON (prices, times, signs).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.app import SIM_START
from engine.calendar import ET, ExchangeCalendar
from engine.clock import SimClock
from engine.config import Config, parse_config
from engine.sim.transport import SimServer
from engine.sim.venue import SimVenue
from tests.engine_run import run_engine

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(cfg: Config):
    runner, code = run_engine(cfg)
    journal = cfg.logs_dir / f"audit-{cfg.session.date:%Y%m%d}.jsonl"
    records = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    return runner, code, records


@pytest.fixture(scope="module")
def both_days(tmp_path_factory, keys) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("loopback_day")
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    raw["risk"]["kill_file"] = str(tmp / "KILL")
    sim_raw = copy.deepcopy(raw)
    sim_raw.update(broker="sim", logs_dir=str(tmp / "sim"))
    sim_cfg = parse_config(sim_raw, "sim run")

    day = sim_cfg.session.date
    clock = SimClock(datetime.combine(day, SIM_START, tzinfo=ET))
    venue = SimVenue(sim_cfg.sim, sim_cfg.underlying, clock, ExchangeCalendar())
    server = SimServer(
        venue, clock, api_key=keys["ALPACA_API_KEY"], secret_key=keys["ALPACA_SECRET_KEY"], seed=sim_cfg.sim.seed
    ).start()
    try:
        raw.update(logs_dir=str(tmp / "loopback"))
        raw["alpaca"].update(trading_url=server.url, data_url=server.url)
        loop_cfg = parse_config(raw, "loopback run")
        with pytest.MonkeyPatch.context() as mp:
            for name, value in keys.items():
                mp.setenv(name, value)
            loop = _run(loop_cfg)
    finally:
        server.stop()
    return {"sim": _run(sim_cfg), "loopback": loop, "server": server, "cfg": loop_cfg}


def _moves(records: list[dict]) -> list[tuple]:
    return [
        (r["trigger"], r["source"], r["dest"], datetime.fromisoformat(r["ts"]))
        for r in records
        if r["kind"] == "transition"
    ]


def test_both_runs_finish_cleanly(both_days) -> None:
    for name in ("sim", "loopback"):
        runner, code, records = both_days[name]
        assert code == 0, name
        assert not [r for r in records if r["kind"] in ("refused", "error")], name
    runner, _, records = both_days["loopback"]
    assert records[0]["broker"] == "alpaca"
    server = both_days["server"]
    assert server.request_counts["POST /sim/advance"] > 100
    assert runner.ctx.now == server.clock.now()  # the engine's time was the server's, moved over HTTP
    assert runner.ctx.now.astimezone(ET).hour >= 15


def test_same_transitions_at_the_same_market_times(both_days) -> None:
    sim, loop = _moves(both_days["sim"][2]), _moves(both_days["loopback"][2])
    assert loop == sim
    assert [m[:3] for m in loop][:4] == [
        ("ready", "Initializing", "AwaitingOpen"),
        ("market_open", "AwaitingOpen", "Scanning"),
        ("signal", "Scanning", "Entering"),
        ("filled", "Entering", "Monitoring"),
    ]
    assert loop[-1][2] == "ShuttingDown"


def test_same_trades_and_pnl(both_days, money) -> None:
    (_, sim_report), (_, loop_report) = both_days["sim"][0].reports[-1], both_days["loopback"][0].reports[-1]
    assert loop_report["trade_count"] >= 1
    assert loop_report["trades"] == sim_report["trades"]
    assert loop_report["realized_pnl"] == money(sim_report["realized_pnl"])
    assert loop_report["total_pnl"] == money(sim_report["total_pnl"])
    assert (loop_report["orders_submitted"], loop_report["fills"]) == (
        sim_report["orders_submitted"],
        sim_report["fills"],
    )
    fills = [
        [
            (r["client_order_id"], r["price"], r["filled_qty"])
            for r in records
            if r["kind"] == "order" and r["event"] == "fill"
        ]
        for records in (both_days["sim"][2], both_days["loopback"][2])
    ]
    assert fills[0] == fills[1] and fills[0]


def test_loopback_day_ends_flat_at_the_server(both_days, money) -> None:
    runner, server, cfg = both_days["loopback"][0], both_days["server"], both_days["cfg"]
    _, report = runner.reports[-1]
    assert report["open_at_end"] == [] and runner.ctx.book.open == []
    now = server.clock.now()
    assert server.venue.exchange.positions(now) == [] and server.venue.exchange.open_orders(now) == []
    equity = server.venue.exchange.account(now).equity
    assert equity - cfg.sim.starting_cash == money(report["realized_pnl"])


def test_loopback_day_needed_no_retries_and_sent_each_order_once(both_days) -> None:
    server = both_days["server"]
    log = server.request_log
    assert all(e["fault"] is None and e["status"] in (200, 204) for e in log), [
        (e["method"], e["path"], e["status"]) for e in log if e["status"] not in (200, 204)
    ]
    posts = [e["client_order_id"] for e in log if e["method"] == "POST" and e["path"] == "/v2/orders"]
    assert len(posts) == len(set(posts)) == len(server.venue.all_orders())
