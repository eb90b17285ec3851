"""Crash and restart: SIGKILL the engine at random moments of a loopback day and restart it (bench/crash_harness.py).

The short version of `python bench/crash_harness.py`: three kills on one simulated day, and every check of the
harness must pass (one order per id, no trade opened twice, complete condors at every kill, flat at the end,
journals verified and never losing a byte written before a kill, exit 0 and a report listing the trades). The
harness's own checkers are tested on made-up server states, so a check that cannot fail is noticed. Last, one
restart found by the harness (a re-planned trade whose legs were taken from its first entry order) is replayed
deterministically.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from tests.bench_scripts import load_bench

REPO = Path(__file__).resolve().parents[2]


ch = load_bench("crash_harness")
DAY = date(2025, 7, 1)


def _leg(right: str, strike: float, side: str) -> dict:
    return {"symbol": f"SPY250701{right}{int(strike * 1000):08d}", "side": side, "ratio_qty": "1"}


def _condor(p_lo: float, p_hi: float, c_lo: float, c_hi: float) -> list[dict]:
    return [_leg("P", p_lo, "buy"), _leg("P", p_hi, "sell"), _leg("C", c_lo, "sell"), _leg("C", c_hi, "buy")]


def _closing(legs: list[dict]) -> list[dict]:
    return [{**leg, "side": "sell" if leg["side"] == "buy" else "buy"} for leg in legs]


def _order(cid: str, legs: list[dict], filled: int, at: str = "2025-07-01T14:00:00Z") -> dict:
    return {
        "client_order_id": cid,
        "legs": legs,
        "filled_qty": str(filled),
        "status": "filled" if filled else "canceled",
        "submitted_at": at,
        "filled_at": at if filled else None,
    }


def _positions(held: dict[str, int]) -> list[dict]:
    return [{"symbol": s, "qty": str(q)} for s, q in held.items() if q]


def _holding(*legs_qty: tuple[list[dict], int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for legs, qty in legs_qty:
        for leg in legs:
            out[leg["symbol"]] = out.get(leg["symbol"], 0) + (qty if leg["side"] == "buy" else -qty)
    return out


# -- the short run ------------------------------------------------------------------------------------


def test_three_kills_on_one_day_lose_and_double_nothing(tmp_path):
    lines: list[str] = []
    opts = ch.Options(kills=3, days=1, seed=1, first_date=DAY, workdir=tmp_path)
    result = ch.run_harness(opts, say=lines.append)
    report = "\n".join(lines) + "\n" + ch.format_result(result)
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    assert not failed, report
    assert len(result.kills) == 3, report
    day = result.days[0]
    assert len(day.runs) == 4 and not day.runs[-1].killed and day.runs[-1].exit_code == 0, report
    assert day.facts["journals_verified"] == 1 and day.facts["prefix_kept"] == 3, report
    names = {c.name for c in result.checks}
    assert {
        "one order per client order id",
        "no trade opened twice",
        "complete condors at every kill",
        "flat at the end of the day",
        "journal keeps every byte written before a kill",
        "journal verifies",
        "final run exit 0",
        "report lists the trades",
    } <= names
    figures = dict((name, value) for name, value, _ in result.figures())
    assert figures["kills done"] == "3/3" and figures["duplicate client order ids"] == "0"


# -- the checkers, on made-up states ------------------------------------------------------------------

A = _condor(588, 593, 605, 610)
B = _condor(588, 593, 606, 611)


def test_a_held_condor_is_complete_and_an_unpaired_leg_is_not():
    orders = [_order("zdte-20250701-01o-00", A, 1)]
    assert ch.condor_problems(_positions(_holding((A, 1))), orders, DAY) == (1, [])
    broken = _holding((A, 1))
    del broken[A[3]["symbol"]]  # the long call wing is gone: a naked short call
    n, problems = ch.condor_problems(_positions(broken), orders, DAY)
    assert n == 1 and any("C: 0 long vs 1 short" in p for p in problems)
    assert any("differ from the sum of fills" in p for p in problems)


def test_a_trade_whose_exit_closed_only_some_legs_is_a_broken_condor():
    orders = [_order("zdte-20250701-01o-00", A, 1), _order("zdte-20250701-01c-00", _closing(A[:2]), 1)]
    n, problems = ch.condor_problems(_positions(_holding((A[2:], 1))), orders, DAY)
    assert n == 1 and any("not whole condors" in p for p in problems)


def test_the_legs_of_a_trade_are_those_its_entry_filled_with():
    """A restart may re-plan a trade whose earlier attempts never filled: the attempt that filled says the legs."""
    orders = [
        _order("zdte-20250701-01o-00", A, 0, "2025-07-01T14:00:00Z"),
        _order("zdte-20250701-01o-01", B, 1, "2025-07-01T14:01:00Z"),
    ]
    assert ch.condor_problems(_positions(_holding((B, 1))), orders, DAY) == (1, [])
    trades = ch.trades_from_orders(orders, DAY)
    assert [leg["symbol"] for leg in trades[1].entry_legs] == [leg["symbol"] for leg in B]


def test_doubles_and_overlaps_are_counted():
    orders = [
        _order("zdte-20250701-01o-00", A, 1, "2025-07-01T14:00:00Z"),
        _order("zdte-20250701-01o-01", A, 1, "2025-07-01T14:00:10Z"),
        _order("zdte-20250701-02o-00", B, 1, "2025-07-01T14:05:00Z"),
        _order("zdte-20250701-01c-00", _closing(A), 2, "2025-07-01T14:10:00Z"),
    ]
    trades = ch.trades_from_orders(orders, DAY)
    assert trades[1].entry_attempts_filled == ["zdte-20250701-01o-00", "zdte-20250701-01o-01"]
    assert ch.max_open_condors(trades) == 2
    assert ch.parse_cid("zdte-20250701-12c-03") == (DAY, 12, "exit", 3)
    assert ch.parse_cid("other-20250701-12c-03") is None


def test_journal_verify_accepts_a_torn_tail_and_refuses_an_edit(tmp_path):
    sys.path.insert(0, str(REPO))
    from engine.calendar import et
    from engine.journal.audit import Journal

    good = tmp_path / "audit-good.jsonl"
    j = Journal(good)
    j.append("header", et(DAY, 9, 0), session_date=DAY.isoformat())
    for i in range(3):
        j.append("note", et(DAY, 10, i), n=i)
    j.close()
    torn = tmp_path / "audit-torn.jsonl"
    torn.write_bytes(good.read_bytes() + b'{"seq":4,"ts":"2025-07-01T10:')
    edited = tmp_path / "audit-edited.jsonl"
    edited.write_text(good.read_text().replace('"n":1', '"n":7'))
    verdicts = ch.verify_journals(sys.executable, [good, torn, edited])
    assert verdicts[good][0] and verdicts[torn][0] and not verdicts[edited][0]
    assert ch.journal_state(torn.read_bytes())[0] == 4


# -- a restart the harness caught -------------------------------------------------------------------


def test_a_restart_adopts_the_legs_the_entry_filled_with(tmp_path):
    """What the server holds after this sequence (found by the harness at seed 1: kills right after entry orders):
    attempt 01o-00 of trade 1 with strikes 588/593/605/610 was cancelled by a price walk step, the engine was killed
    before the next attempt, restarted, re-planned trade 1 at 588/593/606/611 and filled it as 01o-01. Any later
    restart must adopt one complete condor 588/593/606/611, manage it, and end the day flat."""
    server = ch.SimServer(DAY, 1, tmp_path, sys.executable)
    try:
        http = server.http
        http.post(server.url + "/sim/advance", json={"until": "2025-07-01T10:00:00-04:00"}).raise_for_status()

        def send(cid: str, legs: list[dict], kind: str, limit: str | None = None) -> dict:
            body = {
                "qty": "1",
                "order_class": "mleg",
                "type": kind,
                "time_in_force": "day",
                "client_order_id": cid,
                "legs": [{**leg, "position_intent": f"{leg['side']}_to_open"} for leg in legs],
            }
            if limit is not None:
                body["limit_price"] = limit
            r = http.post(server.url + "/v2/orders", json=body)
            r.raise_for_status()
            return r.json()

        first = send("zdte-20250701-01o-00", A, "limit", "-5.00")  # far from the market: it rests
        http.delete(f"{server.url}/v2/orders/{first['id']}").raise_for_status()
        send("zdte-20250701-01o-01", B, "market")
        held = {p["symbol"]: int(p["qty"]) for p in server.positions()}
        assert held == _holding((B, 1))

        cfg = tmp_path / "config.yaml"
        ch.write_config(cfg, server.url, DAY, 1, tmp_path / "logs", tmp_path / "KILL")
        run = subprocess.run(
            [sys.executable, "run.py", "--config", str(cfg), "--quiet"],
            cwd=REPO,
            env=ch.engine_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        left = [(p["symbol"], p["qty"]) for p in server.positions()]
        orders = server.orders()
    finally:
        server.stop()
    journal = tmp_path / "logs" / "audit-20250701.jsonl"
    reconcile = next(json.loads(x) for x in journal.read_text().splitlines() if '"kind":"reconcile"' in x)
    assert run.returncode == 0, run.stderr
    assert not reconcile["broken_flattened"] and not reconcile["foreign_positions_left_alone"], reconcile
    assert [sorted(s["legs"]) for s in reconcile["adopted"]] == [sorted(f"{x['side']}:{x['symbol']}" for x in B)]
    assert left == [], f"the engine finished the day holding {left}"
    trades = ch.trades_from_orders(orders, DAY)
    assert all(t.shape_problem() is None for t in trades.values())
