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
