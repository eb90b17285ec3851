"""ShuttingDown: cancel the working entry, flatten if configured and the market is open, report, close the journal."""

from __future__ import annotations

import json

import pytest

from engine.app import build
from engine.config import parse_config
from engine.journal.audit import journal_path, read_journal
from engine.machine import State
from engine.models import OrderStatus
from tests.states.statekit import DAY, EXIT_LEGS, World


def shut_down_from(world: World, source: State):
    runner = world.runner(source)
    runner.fire("shutdown", "SIGTERM")
    assert runner.state is State.SHUTTING_DOWN
    return runner


def report(world: World) -> dict:
    return json.loads(world.report_file().read_text())


@pytest.mark.parametrize("close_on_shutdown", [True, False], ids=["flatten", "keep"])
def test_cancels_the_working_entry_whatever_the_flatten_setting(world: World, close_on_shutdown):
    world.configure({"risk": {"close_positions_on_shutdown": close_on_shutdown}})
    world.fill = "rest"
    runner = world.runner(State.ENTERING)
    runner.ctx.book.plan = world.plan()
    runner.tick()
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert world.broker.submit_order.call_count == 1
    assert runner.ctx.book.working is None and runner.ctx.book.open == []
    assert runner.finished


def test_flattens_open_condors_with_one_combo_order_when_configured(world: World):
    world.configure({"risk": {"close_positions_on_shutdown": True}})
    runner = world.runner(State.MONITORING)
    world.open_condor(runner)
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    [request] = world.submitted()
    assert request.client_order_id == "zdte-20250701-01c-00"
    assert request.legs == EXIT_LEGS and request.qty == 1 and request.limit_price >= 1.00
    assert runner.ctx.book.open == [] and runner.finished
    data = report(world)
    assert data["open_at_end"] == []
    assert [t["exit_reason"] for t in data["trades"]] == ["close_positions_on_shutdown"]


def test_leaves_open_condors_alone_when_not_configured(world: World):
    world.configure({"risk": {"close_positions_on_shutdown": False}})
    runner = world.runner(State.MONITORING)
    world.open_condor(runner)
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    world.broker.submit_order.assert_not_called()
    assert runner.finished
    assert [s["trade_no"] for s in report(world)["open_at_end"]] == [1]


def test_does_not_try_to_flatten_after_the_close(world: World):
    world.at(16, 5)
    runner = world.runner(State.HALTED)
    world.open_condor(runner)
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    world.broker.submit_order.assert_not_called()
    assert runner.finished and len(report(world)["open_at_end"]) == 1


def test_a_resting_flatten_order_is_worked_before_finishing(world: World):
    world.fill = "rest"
    runner = world.runner(State.MONITORING)
    world.open_condor(runner)
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    assert not runner.finished and len(runner.ctx.book.open) == 1
    world.fill_resting()
    runner.tick()

    assert runner.finished and runner.ctx.book.open == []
    assert world.broker.submit_order.call_count == 1


def test_writes_the_report_and_closes_the_journal(world: World):
    runner = shut_down_from(world, State.SCANNING)

    runner.tick()

    assert runner.finished and runner.exit_code == 0
    assert world.report_file().name == "report-20250701.json"
    data = report(world)
    assert data["session_date"] == "2025-07-01" and data["end_state"] == "ShuttingDown"
    assert data["transitions"] == 1
    runner.audit.record("late", runner.ctx.now)  # the journal is closed: nothing more reaches it
    assert "late" not in {r["kind"] for r in world.records()}
    # the last move is the shutdown; after it only the close of the day's books and the port calls it made
    kinds = [r["kind"] for r in world.records()]
    last_move = max(i for i, k in enumerate(kinds) if k == "transition")
    assert world.records()[last_move]["trigger"] == "shutdown"
    assert set(kinds[last_move + 1:]) <= {"input", "day_end"} and kinds.count("day_end") == 1


def test_cleanup_error_still_finishes_with_exit_code_1(world: World):
    world.market_data.quotes.side_effect = RuntimeError("quotes gone during cleanup")
    runner = world.runner(State.MONITORING)
    world.open_condor(runner)
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    assert runner.finished and runner.exit_code == 1
    assert world.report_file().exists()
    world.broker.submit_order.assert_not_called()


@pytest.mark.parametrize("trigger", ["shutdown", "resume", "ready"])
def test_trigger_not_valid_in_shutting_down_is_refused_and_audited(world: World, trigger):
    runner = shut_down_from(world, State.AWAITING_OPEN)

    world.assert_refused(runner, trigger)

    runner.tick()
    assert runner.finished


def test_a_whole_simulated_day_runs_to_shutting_down_with_a_verified_journal(tmp_path):
    cfg = parse_config({"logs_dir": str(tmp_path / "logs"), "session": {"date": DAY.isoformat()},
                        "risk": {"kill_file": str(tmp_path / "KILL")}}, "test")
    runner = build(cfg)

    code = runner.run()

    assert code == 0 and runner.finished and runner.state is State.SHUTTING_DOWN
    records, problems = read_journal(journal_path(cfg.logs_dir, DAY))
    assert problems == []
    moves = [(r["trigger"], r["source"], r["dest"]) for r in records if r["kind"] == "transition"]
    assert moves[0] == ("ready", "Initializing", "AwaitingOpen")
    assert moves[1] == ("market_open", "AwaitingOpen", "Scanning")
    assert moves[-1][0] == "session_end" and moves[-1][2] == "ShuttingDown"
    entries = [r for r in records if r["kind"] == "order" and r["event"] == "submit" and r["purpose"] == "entry"]
    assert entries and all(len(r["legs"]) == 4 and r["limit_price"] < 0 for r in entries)
    assert entries[0]["client_order_id"] == "zdte-20250701-01o-00"
    assert (tmp_path / "logs" / "report-20250701.json").exists()
    assert runner.ctx.book.open == []


def test_keep_setting_books_the_filled_part_of_a_resting_exit_and_reports_the_rest_open(world: World):
    world.configure({"risk": {"close_positions_on_shutdown": False}})
    world.fill, world.price_scale = "rest", 0.3
    runner = world.runner(State.MONITORING)
    world.open_condor(runner, entry_price=-0.92, qty=2)
    runner.tick()  # the profit target fires: one exit order for both contracts, resting at 0.28
    [request] = world.submitted()
    assert (request.client_order_id, request.qty, request.limit_price) == ("zdte-20250701-01c-00", 2, 0.28)
    world.fill_resting(qty=1)
    runner.fire("shutdown", "SIGTERM")

    runner.tick()

    assert runner.finished and runner.ctx.book.working is None
    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert world.broker.submit_order.call_count == 1
    data = report(world)
    [trade] = data["trades"]
    assert (trade["trade_no"], trade["qty"], trade["exit_price"]) == (1, 1, 0.28)
    assert trade["pnl"] == pytest.approx(64.0) and "profit target" in trade["exit_reason"]
    [left] = data["open_at_end"]
    assert (left["trade_no"], left["qty"], left["entry_price"]) == (1, 1, -0.92)
    assert data["realized_pnl"] == pytest.approx(64.0)


@pytest.mark.parametrize("outcome", ["canceled", "filled"])
def test_stays_while_the_working_entrys_cancel_is_pending_then_finishes(world: World, outcome):
    world.configure({"risk": {"close_positions_on_shutdown": False}, "strategy": {"contracts": 2}})
    world.fill = "rest"
    runner = world.runner(State.ENTERING)
    runner.ctx.book.plan = world.plan(qty=2)
    runner.tick()
    world.cancel_pends = True
    runner.fire("shutdown", "SIGTERM")

    for _ in range(3):
        runner.tick()
        assert runner.state is State.SHUTTING_DOWN and not runner.finished
        assert runner.ctx.book.working is not None and not world.report_file().exists()
    assert world.orders["ord-1"].status is OrderStatus.PENDING_CANCEL
    if outcome == "filled":
        world.fill_resting()  # it filled before the cancel took effect
    world.confirm_cancels()

    runner.tick()

    assert runner.finished and runner.ctx.book.working is None
    assert world.broker.submit_order.call_count == 1
    left = report(world)["open_at_end"]
    if outcome == "filled":
        assert [(s["trade_no"], s["qty"], s["entry_price"]) for s in left] == [(1, 2, -0.92)]
        assert runner.ctx.book.trades_today == 1
    else:
        assert left == [] and runner.ctx.book.open == []
