"""Entering: one 4-leg limit order per entry, worked until it fills or is cancelled (confirmed) and abandoned."""

from __future__ import annotations

import pytest

from engine.calendar import et
from engine.machine import State
from engine.models import OrderRequest, OrderStatus
from tests.states.statekit import DAY, ENTRY_LEGS, World


def entering(world: World, qty: int = 1):
    world.configure({"strategy": {"contracts": qty}})  # the order gate allows entries up to strategy.contracts
    runner = world.runner(State.ENTERING)
    runner.ctx.book.plan = world.plan(qty)
    return runner


def test_filled_entry_is_one_four_leg_credit_order_with_a_deterministic_id(world: World):
    runner = entering(world)

    runner.tick()

    assert runner.state is State.MONITORING
    world.broker.submit_order.assert_called_once_with(
        OrderRequest(client_order_id="zdte-20250701-01o-00", legs=ENTRY_LEGS, qty=1, limit_price=-0.92)
    )
    world.assert_moved("filled", State.ENTERING, State.MONITORING, "trade 1 filled 1x at -0.92", "zdte-20250701-01o-00")
    ctx = runner.ctx
    assert [s.trade_no for s in ctx.book.open] == [1]
    assert ctx.book.open[0].entry_price == pytest.approx(-0.92) and ctx.book.open[0].legs == ENTRY_LEGS
    assert ctx.book.trades_today == 1 and ctx.book.plan is None and ctx.book.working is None
    orders = [(r["event"], r["client_order_id"]) for r in world.records() if r["kind"] == "order"]
    assert orders == [("submit", "zdte-20250701-01o-00"), ("fill", "zdte-20250701-01o-00")]


def test_resting_entry_is_polled_not_resent_until_it_fills(world: World):
    world.fill = "rest"
    runner = entering(world)

    assert runner.tick() is None
    assert runner.state is State.ENTERING and runner.ctx.book.working is not None
    world.fill_resting()
    runner.tick()

    assert runner.state is State.MONITORING
    assert world.broker.submit_order.call_count == 1
    world.broker.get_order.assert_called_with("ord-1")
    world.broker.cancel_order.assert_not_called()
    world.assert_moved("filled", State.ENTERING, State.MONITORING, "trade 1 filled 1x", "zdte-20250701-01o-00")


def test_abandoned_when_the_broker_rejects_the_entry(world: World):
    world.fill = "reject"
    runner = entering(world)

    runner.tick()

    assert runner.state is State.SCANNING
    world.assert_moved("abandoned", State.ENTERING, State.SCANNING, "entry rejected", "options trading halted for SPY")
    assert runner.ctx.book.plan is None and runner.ctx.book.working is None and runner.ctx.book.open == []
    assert world.broker.submit_order.call_count == 1


def test_abandoned_after_the_entry_timeout_with_the_order_cancelled(world: World):
    world.fill = "rest"
    runner = entering(world)
    runner.tick()
    world.clock.set(et(DAY, 10, 33))

    runner.tick()

    assert runner.state is State.SCANNING
    world.assert_moved("abandoned", State.ENTERING, State.SCANNING, "not filled within 180s")
    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert world.orders["ord-1"].status is OrderStatus.CANCELED
    assert world.broker.submit_order.call_count == 1
    assert runner.ctx.book.plan is None and runner.ctx.book.working is None and runner.ctx.book.open == []


def test_partial_fill_at_the_timeout_becomes_a_spread_of_the_filled_size(world: World):
    world.fill = "rest"
    runner = entering(world, qty=2)
    runner.tick()
    world.fill_resting(qty=1)
    world.clock.set(et(DAY, 10, 33))

    runner.tick()

    assert runner.state is State.MONITORING
    world.assert_moved("filled", State.ENTERING, State.MONITORING, "trade 1 filled 1x")
    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert [s.qty for s in runner.ctx.book.open] == [1]


def test_halt_on_the_kill_switch_then_halted_cancels_the_working_entry(world: World):
    world.fill = "rest"
    runner = entering(world)
    runner.tick()
    world.kill()

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.ENTERING, State.HALTED, "kill switch: file")
    world.broker.cancel_order.assert_not_called()

    runner.tick()

    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert runner.ctx.book.working is None and runner.ctx.book.open == []
    assert world.broker.submit_order.call_count == 1


def test_handler_exception_becomes_halt_with_the_exception_and_no_order(world: World):
    world.market_data.quotes.side_effect = RuntimeError("quote stream crashed")
    runner = entering(world)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.ENTERING, State.HALTED, "RuntimeError", "quote stream crashed")
    world.broker.submit_order.assert_not_called()


def test_shutdown_signal_while_an_entry_is_working_cancels_it(world: World):
    world.fill = "rest"
    runner = entering(world)
    runner.tick()

    outcome = runner.fire("shutdown", "SIGTERM")

    assert outcome.moved and runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.ENTERING, State.SHUTTING_DOWN, "SIGTERM")
    assert world.last_transition()["snapshot"]["working_orders"][0]["client_order_id"] == "zdte-20250701-01o-00"

    runner.tick()

    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert world.broker.submit_order.call_count == 1
    assert runner.finished and runner.ctx.book.open == []


def test_trigger_not_valid_in_entering_is_refused_and_audited(world: World):
    runner = entering(world)

    world.assert_refused(runner, "signal")
    world.assert_refused(runner, "exited")

    world.broker.submit_order.assert_not_called()


def test_an_entry_timeout_waits_for_the_pending_cancel_before_abandoning(world: World):
    world.fill = "rest"
    runner = entering(world)
    runner.tick()
    world.cancel_pends = True
    world.clock.set(et(DAY, 10, 33))

    runner.tick()
    runner.tick()

    assert runner.state is State.ENTERING and runner.ctx.book.working is not None and runner.ctx.book.plan is not None
    world.broker.cancel_order.assert_called_once_with("ord-1")
    assert world.orders["ord-1"].status is OrderStatus.PENDING_CANCEL
    world.confirm_cancels()

    runner.tick()

    assert runner.state is State.SCANNING
    world.assert_moved("abandoned", State.ENTERING, State.SCANNING, "not filled within 180s")
    assert runner.ctx.book.working is None and runner.ctx.book.plan is None and runner.ctx.book.open == []
    assert world.broker.submit_order.call_count == 1


def test_an_entry_that_fills_during_its_pending_timeout_cancel_is_a_trade(world: World):
    world.fill = "rest"
    runner = entering(world, qty=2)
    runner.tick()
    world.cancel_pends = True
    world.clock.set(et(DAY, 10, 33))
    runner.tick()
    assert runner.state is State.ENTERING
    world.fill_resting()
    world.confirm_cancels()

    runner.tick()

    assert runner.state is State.MONITORING
    world.assert_moved("filled", State.ENTERING, State.MONITORING, "trade 1 filled 2x at -0.92", "zdte-20250701-01o-00")
    assert [(s.qty, s.entry_price) for s in runner.ctx.book.open] == [(2, -0.92)]
    assert world.broker.submit_order.call_count == 1
