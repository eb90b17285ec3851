"""engine/runner.py's failure policy: what an exception in a handler becomes, by state and by kind of error.
(Here beside the state tests, whose world of fakes it drives.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import AuthError, DataError
from engine.machine import State
from states import HANDLERS
from tests.states.statekit import World


def raising(exc: BaseException):
    def handler(ctx):
        raise exc

    return handler


def test_an_unexpected_error_while_trading_halts_and_flattens_for_good(world: World, monkeypatch) -> None:
    runner = world.runner(State.MONITORING)
    monkeypatch.setitem(HANDLERS, State.MONITORING, raising(RuntimeError("boom")))
    runner.tick()
    assert runner.state is State.HALTED
    halt = runner.ctx.halt
    assert halt is not None and halt.flatten and not halt.resumable and "RuntimeError: boom" in halt.reason
    world.assert_moved("halt", State.MONITORING, State.HALTED, "RuntimeError: boom")
    assert runner.exit_code == 0


def test_a_data_error_is_waited_out_then_halts_resumably_past_the_tolerance(world: World, monkeypatch) -> None:
    runner = world.runner(State.SCANNING)
    monkeypatch.setitem(HANDLERS, State.SCANNING, raising(DataError("no bars")))
    runner.tick()
    assert runner.state is State.SCANNING and runner.outage_since is not None
    tolerance = world.cfg.risk.broker_outage_tolerance_s
    world.clock.set(runner.outage_since + timedelta(seconds=tolerance + 1))
    runner.tick()
    assert runner.state is State.HALTED
    halt = runner.ctx.halt
    assert halt is not None and halt.resumable and not halt.flatten and "no bars" in halt.reason


@pytest.mark.parametrize(("exc", "code"), [(RuntimeError("bug"), 1), (AuthError("key refused"), 2)])
def test_a_start_up_failure_fails_with_the_right_exit_code(world: World, monkeypatch, exc, code) -> None:
    runner = world.runner(State.INITIALIZING, session=False)
    monkeypatch.setitem(HANDLERS, State.INITIALIZING, raising(exc))
    runner.tick()
    assert runner.state is State.SHUTTING_DOWN and runner.exit_code == code
    world.assert_moved("fail", State.INITIALIZING, State.SHUTTING_DOWN, str(exc))


def test_a_days_report_is_built_with_the_collector_paused_and_it_collects_again_after(
    tmp_path, default_raw_config, monkeypatch
) -> None:
    import copy
    import gc

    import engine.runner as runner_module
    from engine.config import parse_config
    from tests.engine_run import run_engine

    collecting: list[bool] = []
    build_day = runner_module.build_day

    def watched(records):
        collecting.append(gc.isenabled())
        return build_day(records)

    monkeypatch.setattr(runner_module, "build_day", watched)
    raw = copy.deepcopy(default_raw_config)
    raw["logs_dir"], raw["risk"]["kill_file"] = str(tmp_path), str(tmp_path / "KILL")
    runner, code = run_engine(parse_config(raw, "test"))
    assert code == 0 and len(runner.reports) == 1
    assert collecting == [False], "the report of the day, built once, with the collector paused"
    assert gc.isenabled()


def test_the_collector_pause_ends_on_an_error_and_keeps_a_collector_that_was_off_off() -> None:
    import gc

    from engine.runner import _collector_paused

    with pytest.raises(RuntimeError), _collector_paused():
        raise RuntimeError("the report failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with _collector_paused():
            pass
        assert not gc.isenabled(), "whoever turned it off keeps it off"
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("ss", "pace", "step", "waited"),
    [
        (5, 30, None, 30),  # a market that may move at any moment: every poll on the pace
        (5, 30, 60, 60),  # 10:30:35 would see the minute 10:30:05 saw: on to 10:31:05
        (50, 30, 60, 30),  # 10:31:20 is in a new minute
        (0, 45, 60, 90),  # 10:30:45 is skipped, 10:31:30 is not
        (0, 90, 60, 90),
        (5, 10, 60, 60),  # 10:30:15 .. 10:30:55 are all skipped
    ],
)
def test_a_held_condor_is_polled_once_per_step_of_a_market_that_moves_in_steps(
    world: World, ss: int, pace: int, step: float | None, waited: int
) -> None:
    world.configure({"poll": {"monitoring": pace}})
    start = world.at(10, 30, ss)
    runner = world.runner(State.MONITORING, market_step_s=step)
    world.open_condor(runner)

    assert runner.tick() is None

    assert runner.state is State.MONITORING and world.broker.submit_order.call_count == 0
    assert (world.clock.now() - start).total_seconds() == waited


def test_polls_keep_the_order_pace_while_an_order_is_worked_on_a_stepped_market(world: World) -> None:
    """The engine reprices a working order on its own pace (orders.walk_interval_s): a poll inside the minute
    is where the walk happens, so none is skipped."""
    world.fill = "rest"
    start = world.at(10, 30, 5)
    runner = world.runner(State.ENTERING, market_step_s=60)
    runner.ctx.book.plan = world.plan()

    runner.tick()

    assert runner.state is State.ENTERING and runner.ctx.book.working is not None
    assert (world.clock.now() - start).total_seconds() == world.cfg.poll.entering


def test_a_failed_poll_is_retried_on_the_pace_on_a_stepped_market(world: World, monkeypatch) -> None:
    """The broker or the data may be back before the next minute: the retry is not put off."""
    start = world.at(10, 30, 5)
    runner = world.runner(State.MONITORING, market_step_s=60)
    world.open_condor(runner)
    monkeypatch.setitem(HANDLERS, State.MONITORING, raising(DataError("no bars")))

    runner.tick()

    assert runner.state is State.MONITORING and runner.outage_since is not None
    assert (world.clock.now() - start).total_seconds() == world.cfg.poll.monitoring
