"""Scanning: only a plan that passes every pre-trade check becomes `signal`; risk and data problems halt."""

from __future__ import annotations

import pytest

from engine.calendar import et
from engine.errors import BrokerError
from engine.machine import State
from tests.states.statekit import DAY, ENTRY_LEGS, World, paper_account


def test_signal_with_a_short_condor_that_passes_the_risk_gate(world: World):
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.ENTERING
    plan = runner.ctx.book.plan
    assert plan is not None
    assert plan.legs == ENTRY_LEGS
    assert plan.strikes == (590.0, 595.0, 605.0, 610.0)
    assert plan.qty == 1 and plan.mid == pytest.approx(-0.92)
    world.assert_moved(
        "signal", State.SCANNING, State.ENTERING, "short iron condor 590/595/605/610 x1", "mid credit 0.92",
        "max loss 408", "spot 600.00",
    )
    world.broker.submit_order.assert_not_called()
    world.broker.contracts.assert_called_once()
    assert world.broker.contracts.call_args.args[:2] == ("SPY", DAY)


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        (lambda w: w.at(14, 45), "after the entry window"),
        (lambda w: w.at(9, 45), "before the entry window"),
        (lambda w: setattr(w, "price_scale", 0.1), "credit below min_credit"),
        (lambda w: w.configure({"risk": {"max_loss_per_trade": 300.0}}), "max loss above max_loss_per_trade"),
        (lambda w: setattr(w, "account", paper_account(options_buying_power=100.0)), "no buying power"),
        (lambda w: setattr(w, "account", paper_account(equity=100_300.0)), "daily profit target reached"),
        (lambda w: setattr(w, "quote_age_s", 200.0), "the condor's quotes are older than max_staleness_s"),
    ],
    ids=["late", "early", "small-credit", "max-loss", "buying-power", "profit-target", "stale-quotes"],
)
def test_no_signal_when_a_pre_trade_check_blocks_the_entry(world: World, setup, why):
    setup(world)
    runner = world.runner(State.SCANNING)

    outcome = runner.tick()

    assert outcome is None, why
    assert runner.state is State.SCANNING and runner.ctx.book.plan is None
    assert not [r for r in world.records() if r["kind"] == "transition"]
    world.broker.submit_order.assert_not_called()


def test_halt_on_the_kill_switch_file_before_reading_any_data(world: World):
    kill_file = world.kill()
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.SCANNING, State.HALTED, "kill switch: file", str(kill_file))
    assert runner.ctx.halt is not None and runner.ctx.halt.flatten and not runner.ctx.halt.resumable
    world.market_data.bars.assert_not_called()
    world.broker.submit_order.assert_not_called()


def test_halt_on_the_daily_loss_limit_for_good(world: World):
    world.account = paper_account(equity=99_400.0)
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.SCANNING, State.HALTED, "daily loss limit", "P&L -600.00 <= -500.00")
    assert runner.ctx.halt is not None and not runner.ctx.halt.resumable
    assert runner.ctx.book.plan is None
    world.broker.submit_order.assert_not_called()


def test_halt_on_a_data_outage_is_resumable_and_does_not_flatten(world: World):
    world.bars_until = et(DAY, 10, 0)
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.SCANNING, State.HALTED, "data outage", "last SPY bar is 1800s old")
    assert runner.ctx.halt is not None and runner.ctx.halt.resumable and not runner.ctx.halt.flatten
    world.broker.submit_order.assert_not_called()


def test_handler_exception_becomes_halt_with_the_exception_in_the_reason(world: World):
    world.market_data.chain.side_effect = RuntimeError("chain snapshot exploded")
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.SCANNING, State.HALTED, "RuntimeError", "chain snapshot exploded")
    assert runner.ctx.halt is not None and not runner.ctx.halt.resumable
    world.broker.submit_order.assert_not_called()


def test_transient_broker_errors_are_waited_out_then_halt_after_the_tolerance(world: World):
    world.broker.account.side_effect = BrokerError("503 service unavailable", transient=True)
    runner = world.runner(State.SCANNING)

    for _ in range(3):
        assert runner.tick() is None
        assert runner.state is State.SCANNING
    runner.tick()

    assert runner.state is State.HALTED
    world.assert_moved("halt", State.SCANNING, State.HALTED, "broker/data outage for 180s", "503 service unavailable")
    assert runner.ctx.halt is not None and runner.ctx.halt.resumable and not runner.ctx.halt.flatten


def test_session_end_at_the_hard_exit_shuts_down_on_the_last_session(world: World):
    world.at(15, 15)
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("session_end", State.SCANNING, State.SHUTTING_DOWN, "hard exit 15:15 ET reached", "flat")
    assert world.report_file().exists()
    world.market_data.chain.assert_not_called()
    world.broker.submit_order.assert_not_called()


def test_session_end_at_the_hard_exit_awaits_the_next_session_when_one_is_left(world: World):
    world.configure({"session": {"days": 2}})
    world.at(15, 15)
    runner = world.runner(State.SCANNING)

    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    world.assert_moved("session_end", State.SCANNING, State.AWAITING_OPEN, "hard exit 15:15 ET reached")
    assert runner.days.closed and world.report_file().exists()
    world.broker.submit_order.assert_not_called()


def test_shutdown_signal_while_scanning(world: World):
    runner = world.runner(State.SCANNING)

    outcome = runner.fire("shutdown", "SIGTERM")

    assert outcome.moved and runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.SCANNING, State.SHUTTING_DOWN, "SIGTERM")
    runner.tick()
    assert runner.finished and world.report_file().exists()
    world.broker.submit_order.assert_not_called()


def test_trigger_not_valid_in_scanning_is_refused_and_audited(world: World):
    runner = world.runner(State.SCANNING)

    world.assert_refused(runner, "filled")

    runner.tick()
    assert runner.state is State.ENTERING
