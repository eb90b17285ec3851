"""Initializing: ready only for a reachable, paper, options-level-3, active account; anything else is `fail`."""

from __future__ import annotations

import pytest

from engine.app import build
from engine.config import parse_config
from engine.errors import AuthError, BrokerError
from engine.machine import State
from tests.states.statekit import DAY, World, paper_account


def test_ready_for_a_paper_level3_active_account(world: World):
    runner = world.runner(State.INITIALIZING, session=False)

    outcome = runner.tick()

    assert outcome is not None and outcome.moved
    assert runner.state is State.AWAITING_OPEN
    world.assert_moved("ready", State.INITIALIZING, State.AWAITING_OPEN, "paper account PA-TEST-1", "options level 3",
                       "equity 100000.00")
    world.broker.account.assert_called_once_with()
    world.broker.submit_order.assert_not_called()
    assert runner.exit_code == 0


@pytest.mark.parametrize(
    ("account", "words"),
    [
        (paper_account(paper=False, account_id="LIVE-9"), ("account LIVE-9 is not a paper account", "paper only")),
        (paper_account(options_level=2), ("options level 2 < 3", "multi-leg spreads are not allowed")),
        (paper_account(status="ACCOUNT_CLOSED"), ("account status is ACCOUNT_CLOSED", "not ACTIVE")),
    ],
    ids=["live-account", "options-level-2", "inactive"],
)
def test_fail_with_a_clear_reason_for_an_unusable_account(world: World, account, words):
    world.account = account
    runner = world.runner(State.INITIALIZING, session=False)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("fail", State.INITIALIZING, State.SHUTTING_DOWN, *words)
    assert runner.exit_code != 0, "a refused start must not exit as a success"
    world.broker.submit_order.assert_not_called()
    world.market_data.bars.assert_not_called()


@pytest.mark.parametrize(
    "error",
    [AuthError("401 unauthorized: check the API keys"), BrokerError("400 bad request"),
     ConnectionError("broker unreachable")],
    ids=["auth", "permanent", "network"],
)
def test_exception_at_start_up_becomes_fail_with_the_error_in_the_reason(world: World, error):
    world.broker.account.side_effect = error
    runner = world.runner(State.INITIALIZING, session=False)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved(
        "fail", State.INITIALIZING, State.SHUTTING_DOWN, "start-up failed", type(error).__name__, str(error)
    )
    assert runner.exit_code != 0
    world.broker.submit_order.assert_not_called()


def test_fail_then_shutting_down_writes_the_report_and_finishes(world: World):
    world.account = paper_account(paper=False)
    runner = world.runner(State.INITIALIZING, session=False)

    runner.tick()
    runner.tick()

    assert runner.finished
    assert world.report_file().exists()
    world.broker.submit_order.assert_not_called()
    world.broker.cancel_order.assert_not_called()


def test_shutdown_signal_while_initializing(world: World):
    runner = world.runner(State.INITIALIZING, session=False)

    outcome = runner.fire("shutdown", "SIGTERM")

    assert outcome.moved and runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.INITIALIZING, State.SHUTTING_DOWN, "SIGTERM")
    runner.tick()
    assert runner.finished
    world.broker.submit_order.assert_not_called()
    world.broker.cancel_order.assert_not_called()


@pytest.mark.parametrize("trigger", ["market_open", "signal", "halt", "session_end", "resume"])
def test_trigger_not_valid_in_initializing_is_refused_and_audited(world: World, trigger):
    runner = world.runner(State.INITIALIZING, session=False)

    world.assert_refused(runner, trigger)

    runner.tick()
    assert runner.state is State.AWAITING_OPEN


def test_ready_on_the_simulated_broker(tmp_path):
    cfg = parse_config({"logs_dir": str(tmp_path / "logs"), "session": {"date": DAY.isoformat()},
                        "risk": {"kill_file": str(tmp_path / "KILL")}}, "test")
    runner = build(cfg)
    runner.start()

    outcome = runner.tick()

    assert outcome is not None and outcome.moved
    assert runner.state is State.AWAITING_OPEN
    assert outcome.reason.startswith("paper account ") and "options level 3" in outcome.reason


def test_a_transient_error_at_start_up_is_retried_until_the_outage_tolerance_then_fails(world: World):
    """Nothing is at risk before trading: a passing broker error is waited out (broker_outage_tolerance_s)."""
    world.broker.account.side_effect = BrokerError("503 upstream", transient=True)
    runner = world.runner(State.INITIALIZING, session=False)
    tolerance = runner.ctx.cfg.risk.broker_outage_tolerance_s

    runner.tick()
    assert runner.state is State.INITIALIZING
    first = runner.outage_since
    for _ in range(1000):
        runner.tick()
        if runner.state is not State.INITIALIZING:
            break
    assert runner.state is State.SHUTTING_DOWN
    assert (runner.ctx.now - first).total_seconds() > tolerance
    world.assert_moved("fail", State.INITIALIZING, State.SHUTTING_DOWN, "start-up failed", "503 upstream")
    assert world.broker.account.call_count > 2


def test_a_start_up_that_recovers_from_a_transient_error_goes_ready(world: World):
    account = world.account
    world.broker.account.side_effect = [BrokerError("429 slow down", transient=True), account, account]
    runner = world.runner(State.INITIALIZING, session=False)
    runner.tick()
    assert runner.state is State.INITIALIZING
    runner.tick()
    assert runner.state is State.AWAITING_OPEN
