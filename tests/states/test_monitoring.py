"""Monitoring: mark the open condor, close it as ONE reverse-leg order on target/stop/time, halt on limits."""

from __future__ import annotations

import pytest

from engine.book import CondorPlan
from engine.calendar import et
from engine.combo import natural, net_mid
from engine.machine import State
from engine.models import Leg, OrderRequest, OrderStatus
from engine.occ import parse_occ
from tests.states.statekit import DAY, ENTRY_LEGS, EXIT_LEGS, NEXT_DAY, World, occ, paper_account


def monitoring(world: World):
    runner = world.runner(State.MONITORING)
    world.open_condor(runner, entry_price=-0.92)
    return runner


def test_keeps_the_condor_while_no_exit_rule_fires(world: World):
    runner = monitoring(world)

    assert runner.tick() is None

    assert runner.state is State.MONITORING and len(runner.ctx.book.open) == 1
    world.broker.submit_order.assert_not_called()
    assert set(runner.ctx.parts.marks.quotes) == {leg.symbol for leg in EXIT_LEGS}


def test_exited_on_the_profit_target_with_one_reverse_leg_order(world: World):
    world.price_scale = 0.3
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.SCANNING
    world.broker.submit_order.assert_called_once_with(
        OrderRequest(client_order_id="zdte-20250701-01c-00", legs=EXIT_LEGS, qty=1, limit_price=0.28)
    )
    world.assert_moved("exited", State.MONITORING, State.SCANNING, "trade 1 closed", "profit target", "P&L +64.00")
    assert runner.ctx.book.open == []
    [trade] = runner.ctx.book.closed
    assert trade.exit_price == pytest.approx(0.28) and trade.pnl == pytest.approx(64.0)


def test_exited_on_the_spread_stop(world: World):
    world.price_scale = 2.5
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.SCANNING
    world.assert_moved("exited", State.MONITORING, State.SCANNING, "spread stop")
    [request] = world.submitted()
    assert request.legs == EXIT_LEGS and request.limit_price > 0
    assert runner.ctx.book.closed[0].pnl < -92.0


def test_a_stale_mark_blocks_the_spread_stop_and_sends_nothing(world: World):
    """The same losing marks as the spread-stop test, but last quoted 200 s ago (max_staleness_s 180): no exit is
    decided on them."""
    world.price_scale, world.quote_age_s = 2.5, 200.0
    runner = monitoring(world)

    assert runner.tick() is None

    assert runner.state is State.MONITORING and len(runner.ctx.book.open) == 1
    world.broker.submit_order.assert_not_called()


def test_a_stale_mark_does_not_block_the_time_exit(world: World):
    world.at(15, 15)
    world.quote_age_s = 200.0
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    [request] = world.submitted()
    assert request.legs == EXIT_LEGS
    assert runner.ctx.book.closed[0].exit_reason == "time exit at 15:15 ET"


def test_a_quote_outage_halts_without_flattening_and_resumes_once_quoted_again(world: World):
    """Quotes 700 s old (outage_tolerance_s 600): a resumable halt that keeps the condor; quoted again, the halt
    decides the spread stop on the fresh marks, closes the condor and, flat, resumes in the same poll."""
    world.quote_age_s = 700.0
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.MONITORING, State.HALTED, "quote outage", "last quoted 700s ago")
    assert runner.ctx.halt is not None and runner.ctx.halt.resumable and not runner.ctx.halt.flatten
    world.broker.submit_order.assert_not_called()

    world.quote_age_s, world.price_scale = 0.0, 2.5
    runner.tick()

    [request] = world.submitted()
    assert request.legs == EXIT_LEGS
    assert runner.ctx.book.closed[0].exit_reason.startswith("spread stop")
    assert runner.state is State.SCANNING and runner.ctx.halt is None, "flat, with the cause cleared: resumed"
    world.assert_moved("resume", State.HALTED, State.SCANNING, "cleared: quote outage")


def test_halt_on_the_daily_loss_limit_then_flatten_with_one_combo_order(world: World):
    world.account = paper_account(equity=99_350.0)
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.MONITORING, State.HALTED, "daily loss limit", "P&L -650.00 <= -500.00")
    assert runner.ctx.halt is not None and runner.ctx.halt.flatten and not runner.ctx.halt.resumable
    world.broker.submit_order.assert_not_called()

    runner.tick()

    assert runner.state is State.HALTED
    [request] = world.submitted()
    assert request.client_order_id == "zdte-20250701-01c-00"
    assert request.legs == EXIT_LEGS and request.qty == 1
    assert request.limit_price >= 1.00, "a forced flatten is priced at least at the natural price (1.00)"
    assert runner.ctx.book.open == []
    assert runner.ctx.book.closed[0].exit_reason.startswith("flatten: daily loss limit")


def test_halt_on_the_kill_switch_without_marking(world: World):
    world.kill()
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.MONITORING, State.HALTED, "kill switch: file")
    assert runner.ctx.halt is not None and runner.ctx.halt.flatten
    world.market_data.quotes.assert_not_called()
    world.broker.submit_order.assert_not_called()


def test_halt_after_an_exit_that_reaches_max_daily_trades(world: World):
    world.price_scale = 0.3
    runner = monitoring(world)
    runner.ctx.book.trades_today = 3

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.MONITORING, State.HALTED, "trade 1 closed", "max_daily_trades reached (3)")
    assert runner.ctx.halt is not None and not runner.ctx.halt.flatten and not runner.ctx.halt.resumable
    assert world.broker.submit_order.call_count == 1


def test_handler_exception_becomes_halt_that_flattens(world: World):
    world.market_data.quotes.side_effect = RuntimeError("marking failed")
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.MONITORING, State.HALTED, "RuntimeError", "marking failed")
    assert runner.ctx.halt is not None and runner.ctx.halt.flatten
    world.broker.submit_order.assert_not_called()


def test_session_end_at_the_hard_exit_closes_the_condor_then_shuts_down(world: World):
    world.at(15, 15)
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved(
        "session_end", State.MONITORING, State.SHUTTING_DOWN, "time exit at 15:15 ET", "hard exit reached", "flat"
    )
    [request] = world.submitted()
    assert request.legs == EXIT_LEGS
    assert runner.ctx.book.open == [] and world.report_file().exists()


def test_session_end_at_the_hard_exit_awaits_the_next_session_when_one_is_left(world: World):
    world.configure({"session": {"days": 2}})
    world.at(15, 15)
    runner = monitoring(world)

    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    world.assert_moved("session_end", State.MONITORING, State.AWAITING_OPEN, "hard exit reached")
    assert world.broker.submit_order.call_count == 1
    assert runner.ctx.book.open == [] and world.report_file().exists()


def test_session_end_after_the_close_books_what_the_broker_settled(world: World):
    world.at(16, 0)
    runner = monitoring(world)
    world.held = []

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("session_end", State.MONITORING, State.SHUTTING_DOWN, "session closed", "settled by the broker")
    world.broker.submit_order.assert_not_called()
    assert runner.ctx.book.open == []
    assert "settled by the broker" in runner.ctx.book.closed[0].exit_reason


def test_settlement_after_the_close_is_valued_at_intrinsic_of_the_last_spot(world: World):
    world.spot = 612.0
    world.at(16, 0)
    runner = monitoring(world)
    runner.ctx.parts.bars.refresh(et(DAY, 15, 59))
    world.held = []

    runner.tick()

    [trade] = runner.ctx.book.closed
    assert trade.exit_price == pytest.approx(5.0), "605/610 call spread 7 and 2 in the money at 612"
    assert trade.pnl == pytest.approx(-408.0)


def test_shutdown_signal_while_monitoring(world: World):
    runner = monitoring(world)

    outcome = runner.fire("shutdown", "SIGTERM")

    assert outcome.moved and runner.state is State.SHUTTING_DOWN
    rec = world.assert_moved("shutdown", State.MONITORING, State.SHUTTING_DOWN, "SIGTERM")
    assert [s["trade_no"] for s in rec["snapshot"]["open_spreads"]] == [1]
    world.broker.submit_order.assert_not_called()


def test_trigger_not_valid_in_monitoring_is_refused_and_audited(world: World):
    runner = monitoring(world)

    world.assert_refused(runner, "market_open")

    assert len(runner.ctx.book.open) == 1
    world.broker.submit_order.assert_not_called()


def test_an_exit_still_working_at_the_close_is_dropped_and_day_two_starts_with_a_fresh_entry(world: World):
    world.configure({"session": {"days": 2}})
    world.fill, world.price_scale = "rest", 0.3
    world.at(15, 0)
    runner = monitoring(world)
    runner.tick()  # the profit target fires; the exit rests at the broker
    assert runner.state is State.MONITORING and runner.ctx.book.working.kind == "exit"
    assert world.submitted()[0].client_order_id == "zdte-20250701-01c-00"
    world.held = []  # the broker settles the expired legs after the close
    world.clock.set(et(DAY, 16, 0))

    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    world.assert_moved("session_end", State.MONITORING, State.AWAITING_OPEN, "session closed")
    assert runner.ctx.book.working is None
    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert world.orders["ord-1"].status is OrderStatus.CANCELED
    assert runner.ctx.book.open == [] and "settled by the broker" in runner.ctx.book.closed[0].exit_reason

    world.clock.set(et(NEXT_DAY, 10, 30))
    runner.tick()
    assert runner.state is State.SCANNING and runner.days.day == NEXT_DAY and runner.ctx.book.working is None
    world.price_scale = 1.0
    contracts = [(parse_occ(leg.symbol), leg) for leg in ENTRY_LEGS]
    legs = tuple(Leg(occ(c.right, c.strike, NEXT_DAY), leg.side, leg.intent) for c, leg in contracts)
    quotes = world.quote_map([leg.symbol for leg in legs])
    runner.ctx.book.plan = CondorPlan("short", legs, (590.0, 595.0, 605.0, 610.0), 5.0, 1, net_mid(legs, quotes),
                                 natural(legs, quotes))
    runner.fire("signal", "day-two plan")
    world.fill = "fill"

    runner.tick()

    assert runner.state is State.MONITORING
    first, second = world.submitted()
    assert first.client_order_id == "zdte-20250701-01c-00"
    assert second.client_order_id == "zdte-20250702-01o-00"
    assert second.legs == legs and second.qty == 1 and second.limit_price == -0.92
    world.broker.cancel_order.assert_called_once()  # day 1's exit was never touched again
    world.assert_moved(
        "filled", State.ENTERING, State.MONITORING, "trade 1 filled 1x", "zdte-20250702-01o-00", day=NEXT_DAY
    )
