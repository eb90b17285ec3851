"""Halted: no entries; flatten when the halt demands it; resume only when a transient cause has cleared."""

from __future__ import annotations

from engine.calendar import et
from engine.context import Halt
from engine.machine import State
from engine.models import OrderStatus
from tests.states.statekit import DAY, EXIT_LEGS, World, paper_account

OUTAGE = Halt("data outage: last SPY bar is 1800s old", flatten=False, resumable=True)
LOSS_LIMIT = Halt("daily loss limit: P&L -600.00 <= -500.00", flatten=True, resumable=False)


def halted(world: World, halt: Halt):
    runner = world.runner(State.HALTED)
    runner.ctx.halt = Halt(halt.reason, halt.flatten, halt.resumable)
    return runner


def test_resume_once_the_data_outage_has_cleared(world: World):
    runner = halted(world, OUTAGE)

    runner.tick()

    assert runner.state is State.SCANNING
    world.assert_moved("resume", State.HALTED, State.SCANNING, "cleared", "data outage")
    assert runner.ctx.halt is None
    world.market_data.bars.assert_called()
    world.broker.submit_order.assert_not_called()


def test_stays_halted_while_the_data_outage_lasts(world: World):
    world.bars_until = et(DAY, 10, 0)
    runner = halted(world, OUTAGE)

    assert runner.tick() is None

    assert runner.state is State.HALTED and runner.ctx.halt is not None
    assert not [r for r in world.records() if r["kind"] == "transition"]


def test_never_resumes_after_the_daily_loss_limit(world: World):
    runner = halted(world, LOSS_LIMIT)

    for _ in range(3):
        assert runner.tick() is None

    assert runner.state is State.HALTED
    assert not [r for r in world.records() if r["kind"] == "transition"]
    world.market_data.bars.assert_not_called()
    world.broker.submit_order.assert_not_called()


def test_flatten_halt_closes_the_condor_with_one_urgent_combo_order(world: World):
    runner = halted(world, LOSS_LIMIT)
    world.open_condor(runner)

    runner.tick()

    assert runner.state is State.HALTED
    [request] = world.submitted()
    assert request.client_order_id == "zdte-20250701-01c-00"
    assert request.legs == EXIT_LEGS and request.qty == 1 and request.limit_price >= 1.00
    assert runner.ctx.book.open == []
    assert runner.ctx.book.closed[0].exit_reason == f"flatten: {LOSS_LIMIT.reason}"


def test_resumable_halt_keeps_the_condor_under_its_exit_rules(world: World):
    world.bars_until = et(DAY, 10, 0)
    runner = halted(world, OUTAGE)
    world.open_condor(runner)

    runner.tick()

    assert runner.state is State.HALTED and len(runner.ctx.book.open) == 1
    world.broker.submit_order.assert_not_called()


def test_resumable_halt_escalates_to_flatten_on_the_loss_limit(world: World):
    world.account = paper_account(equity=99_400.0)
    runner = halted(world, OUTAGE)
    world.open_condor(runner)

    runner.tick()

    assert runner.state is State.HALTED
    assert runner.ctx.halt is not None and runner.ctx.halt.flatten and not runner.ctx.halt.resumable
    escalated = [r for r in world.records() if r["kind"] == "halt_escalated"]
    assert len(escalated) == 1 and "daily loss limit" in escalated[0]["reason"]
    [request] = world.submitted()
    assert request.legs == EXIT_LEGS
    assert runner.ctx.book.open == []


def test_session_end_at_the_hard_exit_when_flat_shuts_down(world: World):
    world.at(15, 15)
    runner = halted(world, LOSS_LIMIT)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("session_end", State.HALTED, State.SHUTTING_DOWN, "hard exit 15:15 ET reached while halted",
                       "daily loss limit", "flat")
    assert world.report_file().exists()
    world.broker.submit_order.assert_not_called()


def test_session_end_at_the_hard_exit_awaits_the_next_session_when_one_is_left(world: World):
    world.configure({"session": {"days": 2}})
    world.at(15, 15)
    runner = halted(world, LOSS_LIMIT)

    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    world.assert_moved("session_end", State.HALTED, State.AWAITING_OPEN, "hard exit 15:15 ET reached while halted")
    assert runner.days.closed and world.report_file().exists()


def test_session_end_after_the_close_while_halted(world: World):
    world.at(16, 0)
    runner = halted(world, LOSS_LIMIT)
    world.open_condor(runner)
    world.held = []

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved(
        "session_end", State.HALTED, State.SHUTTING_DOWN, "session closed while halted", "daily loss limit"
    )
    world.broker.submit_order.assert_not_called()
    assert runner.ctx.book.open == []


def test_shutdown_signal_while_halted(world: World):
    runner = halted(world, LOSS_LIMIT)

    outcome = runner.fire("shutdown", "SIGTERM")

    assert outcome.moved and runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.HALTED, State.SHUTTING_DOWN, "SIGTERM")
    runner.tick()
    assert runner.finished and world.report_file().exists()
    world.broker.submit_order.assert_not_called()


def test_unexpected_error_while_halted_shuts_down_with_the_error(world: World):
    world.market_data.quotes.side_effect = RuntimeError("quote service down hard")
    runner = halted(world, LOSS_LIMIT)
    world.open_condor(runner)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.HALTED, State.SHUTTING_DOWN, "RuntimeError", "quote service down hard")
    assert runner.exit_code == 1


def test_trigger_not_valid_in_halted_is_refused_and_audited(world: World):
    runner = halted(world, LOSS_LIMIT)

    world.assert_refused(runner, "halt")
    world.assert_refused(runner, "signal")

    assert runner.ctx.halt is not None and runner.ctx.halt.reason == LOSS_LIMIT.reason


def halted_with_a_resting_entry(world: World, halt: Halt, qty: int = 1):
    """Entering had an entry resting at the broker when the halt came; the broker cancels asynchronously."""
    world.fill = "rest"
    world.configure({"strategy": {"contracts": qty}})  # the order gate allows entries up to strategy.contracts
    runner = world.runner(State.ENTERING)
    runner.ctx.book.plan = world.plan(qty)
    runner.tick()
    runner.ctx.halt = Halt(halt.reason, halt.flatten, halt.resumable)
    runner.fire("halt", halt.reason)
    assert runner.state is State.HALTED
    world.cancel_pends = True
    return runner


def test_does_not_resume_while_the_working_entrys_cancel_is_pending(world: World):
    runner = halted_with_a_resting_entry(world, OUTAGE)
    transitions = len([r for r in world.records() if r["kind"] == "transition"])

    for _ in range(3):
        assert runner.tick() is None
        assert runner.state is State.HALTED and runner.ctx.book.working is not None

    assert [r for r in world.records() if r["kind"] == "transition"][transitions:] == []
    assert world.orders["ord-1"].status is OrderStatus.PENDING_CANCEL
    world.confirm_cancels()

    runner.tick()

    assert runner.state is State.SCANNING
    world.assert_moved("resume", State.HALTED, State.SCANNING, "cleared", "data outage")
    assert runner.ctx.book.working is None and runner.ctx.book.plan is None and runner.ctx.book.open == []
    assert world.broker.submit_order.call_count == 1


def test_an_entry_that_fills_during_its_pending_cancel_is_flattened_once_the_cancel_is_final(world: World):
    runner = halted_with_a_resting_entry(world, LOSS_LIMIT, qty=2)
    runner.tick()
    runner.tick()
    assert runner.state is State.HALTED and runner.ctx.book.working.kind == "entry"
    assert world.broker.submit_order.call_count == 1 and runner.ctx.book.open == []
    world.fill_resting()  # the entry filled before the cancel took effect
    world.confirm_cancels()
    world.fill = "fill"

    runner.tick()

    entry, exit_ = world.submitted()
    assert entry.client_order_id == "zdte-20250701-01o-00"
    assert (exit_.client_order_id, exit_.legs, exit_.qty) == ("zdte-20250701-01c-00", EXIT_LEGS, 2)
    assert exit_.limit_price == 1.00  # urgent, at natural: shorts bought at their asks, wings sold at their bids,
    #                                   0.59 + 0.59 - 0.09 - 0.09 (the mid would be 0.92)
    assert runner.ctx.book.open == [] and runner.ctx.book.working is None
    [trade] = runner.ctx.book.closed
    assert (trade.spread.qty, trade.spread.entry_price) == (2, -0.92)
    assert trade.exit_reason == f"flatten: {LOSS_LIMIT.reason}"
