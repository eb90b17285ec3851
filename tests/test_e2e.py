"""Whole simulated sessions in-process (engine.app.build -> Runner.run): the journal, the books and the account
must agree, runs must be reproducible, and real minute bars must end every day flat within the loss limit."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

import engine.logs
from engine.app import build
from engine.calendar import ExchangeCalendar
from engine.config import Config, parse_config
from engine.journal.recording import calls_by_method
from engine.journal.replay import IGNORED_FIELDS, OUTPUT_KINDS
from engine.logs import close_day_files
from tests.engine_run import run_engine

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_BARS = REPO_ROOT.parent / "shared" / "data" / "other" / "pratikdkale_rl_trade_execution" / "data" / "SPY_1min.csv"
REAL_FIRST, REAL_LAST = date(2025, 7, 1), date(2025, 7, 15)  # July 16-31 is kept for out-of-sample checks


def config(raw_default: dict[str, Any], logs: Path, **sections: Any) -> Config:
    raw = copy.deepcopy(raw_default)
    raw["logs_dir"] = str(logs)
    raw["risk"]["kill_file"] = str(logs.parent / "KILL")
    raw["report"] = {"html": False}  # the pages are tested in tests/reporting; here they only cost time
    for name, values in sections.items():
        raw[name].update(values)
    return parse_config(raw, "e2e config")


def records_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def chain_problems(data: bytes) -> list[str]:
    """The published rule: each line is the record's JSON with `"hash":"<sha256 of that JSON>"` as its last
    member; prev_hash links; seq counts 1, 2, 3, ... without a gap."""
    problems, prev = [], "0" * 64
    for n, line in enumerate(data.splitlines(), start=1):
        rec = json.loads(line)
        body, tail = line.rsplit(b',"hash":', 1)
        if tail != f'"{hashlib.sha256(body + b"}").hexdigest()}"}}'.encode():
            problems.append(f"record {n}: hash does not match its content")
        if rec["prev_hash"] != prev:
            problems.append(f"record {n}: prev_hash does not link to record {n - 1}")
        if rec["seq"] != n:
            problems.append(f"record {n}: seq {rec['seq']}")
        prev = rec["hash"]
    return problems


def trade_pnls_from_journal(records: list[dict[str, Any]]) -> dict[int, float]:
    """P&L per trade from the fill records alone: what was paid minus what was received, entries and exits."""
    last_fill: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["kind"] == "order" and r["event"] == "fill":
            last_fill[r["client_order_id"]] = r  # fills are cumulative per attempt
    paid: dict[int, float] = defaultdict(float)
    for r in last_fill.values():
        paid[r["trade_no"]] += r["filled_qty"] * r["price"] * 100
    return {trade: -cost for trade, cost in paid.items()}


@pytest.fixture(scope="module")
def default_day(tmp_path_factory, default_raw_config):
    """One simulated session with config.yaml as shipped (logs redirected); journal bytes kept in memory."""
    logs = tmp_path_factory.mktemp("default_day") / "logs"
    cfg = config(default_raw_config, logs)
    runner, code = run_engine(cfg)
    path = logs / f"audit-{cfg.session.date:%Y%m%d}.jsonl"
    data = path.read_bytes()
    return {"cfg": cfg, "runner": runner, "code": code, "path": path, "bytes": data, "records": records_of(data)}


def test_default_day_walks_the_machine_from_initializing_to_shutting_down(default_day):
    assert default_day["code"] == 0
    moves = [(r["source"], r["dest"]) for r in default_day["records"] if r["kind"] == "transition"]
    assert moves[:4] == [
        ("Initializing", "AwaitingOpen"),
        ("AwaitingOpen", "Scanning"),
        ("Scanning", "Entering"),
        ("Entering", "Monitoring"),
    ]
    assert moves[-1][1] == "ShuttingDown"
    for (_, dest), (source, _) in zip(moves, moves[1:], strict=False):
        assert source == dest, f"transition from {source} follows one into {dest}"
    assert not [r for r in default_day["records"] if r["kind"] in ("refused", "error")]


def test_default_day_fills_at_least_one_condor(default_day):
    entry_fills = [
        r for r in default_day["records"] if r["kind"] == "order" and r["event"] == "fill" and r["purpose"] == "entry"
    ]
    assert entry_fills
    assert all(len(r["leg_prices"]) == 4 for r in entry_fills)


def test_default_day_journal_hash_chain_verifies_and_seq_has_no_gap(default_day):
    records = default_day["records"]
    assert records[0]["kind"] == "header" and records[0]["prev_hash"] == "0" * 64
    assert records[0]["session_date"] == default_day["cfg"].session.date.isoformat()
    assert chain_problems(default_day["bytes"]) == []


def test_default_day_ends_flat_at_the_engine_and_at_the_exchange(default_day):
    runner = default_day["runner"]
    _, report = runner.reports[-1]
    assert report["open_at_end"] == []
    assert runner.ctx.book.open == []
    assert runner.venue.exchange.positions(runner.ctx.now) == []
    assert runner.venue.exchange.open_orders(runner.ctx.now) == []


def test_default_day_pnl_agrees_between_journal_report_and_account(default_day, money):
    runner, cfg = default_day["runner"], default_day["cfg"]
    _, report = runner.reports[-1]
    from_journal = trade_pnls_from_journal(default_day["records"])
    assert sorted(from_journal) == sorted(t["trade_no"] for t in report["trades"])
    for t in report["trades"]:
        assert t["pnl"] == money(from_journal[t["trade_no"]])
    assert report["realized_pnl"] == money(sum(t["pnl"] for t in report["trades"]))
    assert report["realized_pnl"] == money(sum(from_journal.values()))
    account = runner.venue.exchange.account(runner.ctx.now)
    assert account.equity - cfg.sim.starting_cash == money(report["realized_pnl"])
    assert report["total_pnl"] == money(report["realized_pnl"])


def test_same_seed_gives_a_byte_identical_journal(default_day):
    rerun_cfg = default_day["cfg"]  # same config, same logs_dir: the header (config included) must match too
    run_engine(rerun_cfg)
    assert default_day["path"].read_bytes() == default_day["bytes"]


def _without_header_and_hashes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("hash", "prev_hash")} for r in records if r["kind"] != "header"]


def test_another_seed_gives_a_different_day(tmp_path, default_raw_config, default_day):
    seed = default_day["cfg"].sim.seed + 1
    cfg = config(default_raw_config, tmp_path / "logs", sim={"seed": seed})
    run_engine(cfg)
    other = records_of((tmp_path / "logs" / f"audit-{cfg.session.date:%Y%m%d}.jsonl").read_bytes())
    assert other[0]["seed"] == seed
    assert _without_header_and_hashes(other) != _without_header_and_hashes(default_day["records"])


def test_three_days_over_a_weekend_write_one_journal_per_session(tmp_path, default_raw_config):
    logs = tmp_path / "logs"
    cfg = config(default_raw_config, logs, session={"date": "2025-07-11", "days": 3})  # a Friday
    runner, code = run_engine(cfg)
    assert code == 0
    assert sorted(p.name for p in logs.glob("audit-*.jsonl")) == [
        "audit-20250711.jsonl",
        "audit-20250714.jsonl",
        "audit-20250715.jsonl",
    ]
    for path in logs.glob("audit-*.jsonl"):
        records = records_of(path.read_bytes())
        assert chain_problems(path.read_bytes()) == []
        assert records[0]["session_date"].replace("-", "") == path.stem.removeprefix("audit-")
    assert [r["session_date"] for _, r in runner.reports] == ["2025-07-11", "2025-07-14", "2025-07-15"]
    assert all(r["open_at_end"] == [] for _, r in runner.reports)
    last = records_of((logs / "audit-20250715.jsonl").read_bytes())
    assert [r["dest"] for r in last if r["kind"] == "transition"][-1] == "ShuttingDown"


def test_skipping_the_polls_inside_a_minute_already_seen_changes_no_decision(tmp_path, default_raw_config):
    """The embedded simulator's market moves once a minute, so the runner skips a poll that would fall in the minute
    the last one saw (engine/runner.py, Runner._poll). On three random-walk sessions every transition and order
    record it writes (times, prices, reasons, snapshots) is the one a run on every poll writes, with fewer polls."""
    outputs, polls = {}, {}
    for mode in ("skipping", "every poll"):
        logs = tmp_path / mode / "logs"
        runner = build(config(default_raw_config, logs, session={"date": "2025-07-01", "days": 3}))
        assert runner.market_step_s == 60
        if mode == "every poll":
            runner.market_step_s = None
        try:
            assert runner.run() == 0
        finally:
            close_day_files()
        records = [r for p in sorted(logs.glob("audit-*.jsonl")) for r in records_of(p.read_bytes())]
        outputs[mode] = [
            {k: v for k, v in r.items() if k not in IGNORED_FIELDS} for r in records if r["kind"] in OUTPUT_KINDS
        ]
        polls[mode] = len(calls_by_method(records)["now"])
    entries = {
        r["client_order_id"]
        for r in outputs["every poll"]
        if r["kind"] == "order" and r["event"] == "fill" and r["purpose"] == "entry"
    }
    assert len(entries) >= 3, "too few trades to compare"
    assert outputs["skipping"] == outputs["every poll"]
    assert polls["skipping"] < 0.7 * polls["every poll"]


def _real_sessions() -> list[date]:
    with REAL_BARS.open(newline="", encoding="utf-8") as fh:
        days = {date.fromisoformat(row["date"][:10]) for row in csv.DictReader(fh)}
    cal = ExchangeCalendar()
    return sorted(d for d in days if REAL_FIRST <= d <= REAL_LAST and cal.session(d) is not None)


def test_real_minute_bars_every_session_ends_flat_verified_and_within_the_loss_limit(
    tmp_path, default_raw_config, money
):
    if not REAL_BARS.is_file():
        pytest.skip(f"../shared/data not present: {REAL_BARS} is missing")
    sessions = _real_sessions()
    assert sessions, f"{REAL_BARS} has no session between {REAL_FIRST} and {REAL_LAST}"
    traded = 0
    for day in sessions:
        logs = tmp_path / day.isoformat() / "logs"
        cfg = config(
            default_raw_config, logs, session={"date": day.isoformat(), "days": 1}, sim={"bars": str(REAL_BARS)}
        )
        runner, code = run_engine(cfg)
        assert code == 0, day
        data = (logs / f"audit-{day:%Y%m%d}.jsonl").read_bytes()
        records = records_of(data)
        assert chain_problems(data) == [], day
        assert [r["dest"] for r in records if r["kind"] == "transition"][-1] == "ShuttingDown", day
        _, report = runner.reports[-1]
        assert report["open_at_end"] == [], day
        assert runner.venue.exchange.positions(runner.ctx.now) == [], day
        change = runner.venue.exchange.account(runner.ctx.now).equity - cfg.sim.starting_cash
        assert change == money(report["realized_pnl"]), day
        assert change >= -cfg.risk.max_daily_loss, f"{day}: lost {change:.2f}"
        traded += report["trade_count"]
    assert traded > 0


def test_an_in_process_run_needs_no_logging_set_up_first(tmp_path, default_raw_config):
    """Regression: build(cfg).run() without engine.logs.setup_logging. The day files' formats ask for extra[mkt],
    which only the engine's patcher fills in; without it loguru swallowed a KeyError per line (printed to stderr)
    and the day files stayed empty. Start from loguru as a fresh import leaves it: one stderr sink, no patcher."""
    logs = tmp_path / "logs"
    cfg = config(default_raw_config, logs)
    saved_stderr, saved_market_now = sys.stderr, engine.logs._market_now
    sys.stderr = errors = io.StringIO()  # where loguru reports a failing sink
    engine.logs.silence()
    logger.configure(patcher=None, extra={})
    engine.logs._market_now = None
    try:
        runner = build(cfg)
        code = runner.run()
    finally:
        close_day_files()
        sys.stderr, engine.logs._market_now = saved_stderr, saved_market_now
        engine.logs.silence()
        logger.configure(patcher=None, extra={})
        logger.add(sys.stderr)
    assert code == 0 and runner.finished
    assert "Logging error" not in errors.getvalue() and "KeyError" not in errors.getvalue()
    day = f"{cfg.session.date:%Y%m%d}"
    engine_log = (logs / f"engine-{day}.log").read_text(encoding="utf-8").splitlines()
    assert any("| mkt - |" in line and "Initializing -> AwaitingOpen [ready]" in line for line in engine_log)
    assert any("-> ShuttingDown [session_end]" in line for line in engine_log)
    trades_log = (logs / f"trades-{day}.log").read_text(encoding="utf-8").splitlines()
    submits = [line for line in trades_log if line.startswith("- | submit client_order_id=zdte-")]
    assert submits and any("closed trade 1" in line for line in trades_log)
    assert len(submits) == runner.reports[-1][1]["orders_submitted"]
