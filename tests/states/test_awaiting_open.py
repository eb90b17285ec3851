"""AwaitingOpen: load today's session from the broker's calendar, sleep to the entry window, open, or end the day."""

from __future__ import annotations

import json

from engine.calendar import et
from engine.journal.audit import journal_path
from engine.machine import State
from tests.states.statekit import DAY, HOLIDAY, NEXT_DAY, World


def test_market_open_inside_the_entry_window_loads_the_session(world: World):
    runner = world.runner(State.AWAITING_OPEN, session=False)

    runner.tick()

    assert runner.state is State.SCANNING
    world.broker.session.assert_called_once_with(DAY)
    assert runner.ctx.session is not None and runner.ctx.session.day == DAY
    world.assert_moved("market_open", State.AWAITING_OPEN, State.SCANNING, "session 2025-07-01 09:30-16:00 ET",
                       "entries 10:00-14:30", "hard exit 15:15")
    world.broker.submit_order.assert_not_called()


def test_before_the_entry_window_sleeps_exactly_until_it_then_opens(world: World):
    world.at(9, 0)
    runner = world.runner(State.AWAITING_OPEN, session=False)

    outcome = runner.tick()

    assert outcome is None and runner.state is State.AWAITING_OPEN
    assert world.clock.now() == et(DAY, 10, 0)
    assert not [r for r in world.records() if r["kind"] == "transition"]

    runner.tick()

    assert runner.state is State.SCANNING
    rec = world.assert_moved("market_open", State.AWAITING_OPEN, State.SCANNING, "entries 10:00-14:30")
    assert rec["ts"] == et(DAY, 10, 0).isoformat()


def test_a_holiday_is_not_one_of_the_runs_sessions_even_the_last_one(world: World):
    """A one-session run started on a holiday trades the next session, as a two-session run would start there."""
    world.configure({"session": {"date": HOLIDAY.isoformat(), "days": 1}})
    world.at(10, 30, day=HOLIDAY)
    runner = world.runner(State.AWAITING_OPEN, session=False)

    runner.tick()
    assert runner.days.skipped and runner.state is State.AWAITING_OPEN
    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    assert runner.days.day.isoformat() == "2025-07-07" and runner.days.left == 1
    world.broker.submit_order.assert_not_called()
    world.market_data.bars.assert_not_called()
    world.market_data.chain.assert_not_called()


def test_holiday_with_sessions_left_moves_to_the_next_session_without_using_one_up(world: World):
    world.configure({"session": {"date": HOLIDAY.isoformat(), "days": 2}})
    world.at(10, 30, day=HOLIDAY)
    runner = world.runner(State.AWAITING_OPEN, session=False)

    runner.tick()  # finds no session on the holiday: the move to the next day is made between ticks
    assert runner.days.skipped and runner.days.day == HOLIDAY
    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    assert runner.days.day.isoformat() == "2025-07-07"
    assert runner.days.left == 2
    assert journal_path(world.cfg.logs_dir, runner.days.day).exists()


def test_session_end_past_the_hard_exit_shuts_down_when_no_sessions_are_left(world: World):
    world.at(15, 20)
    runner = world.runner(State.AWAITING_OPEN, session=False)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("session_end", State.AWAITING_OPEN, State.SHUTTING_DOWN, "already past its hard exit 15:15")
    assert json.loads(world.report_file().read_text())["session_date"] == "2025-07-01"
    world.broker.submit_order.assert_not_called()


def test_session_end_past_the_hard_exit_waits_for_the_next_session_when_one_is_left(world: World):
    world.configure({"session": {"days": 2}})
    world.at(15, 20)
    runner = world.runner(State.AWAITING_OPEN, session=False)

    runner.tick()

    assert runner.state is State.AWAITING_OPEN
    world.assert_moved("session_end", State.AWAITING_OPEN, State.AWAITING_OPEN, "already past its hard exit 15:15")
    assert world.report_file().exists()
    world.broker.submit_order.assert_not_called()

    runner.tick()

    assert runner.days.day == NEXT_DAY and runner.days.left == 1
    assert world.clock.now() == et(NEXT_DAY, 10, 0)
    header = world.records(NEXT_DAY)[0]
    assert header["kind"] == "header" and header["session_date"] == NEXT_DAY.isoformat()


def test_shutdown_signal_while_awaiting_open(world: World):
    world.at(9, 0)
    runner = world.runner(State.AWAITING_OPEN)

    outcome = runner.fire("shutdown", "SIGTERM")

    assert outcome.moved and runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.AWAITING_OPEN, State.SHUTTING_DOWN, "SIGTERM")
    runner.tick()
    assert runner.finished and world.report_file().exists()
    world.broker.submit_order.assert_not_called()


def test_unexpected_error_while_awaiting_open_shuts_down_with_the_error(world: World):
    world.broker.session.side_effect = RuntimeError("calendar service returned garbage")
    runner = world.runner(State.AWAITING_OPEN, session=False)

    runner.tick()

    assert runner.state is State.SHUTTING_DOWN
    world.assert_moved("shutdown", State.AWAITING_OPEN, State.SHUTTING_DOWN, "RuntimeError",
                       "calendar service returned garbage")
    assert runner.exit_code == 1


def test_trigger_not_valid_in_awaiting_open_is_refused_and_audited(world: World):
    world.at(9, 0)
    runner = world.runner(State.AWAITING_OPEN)

    world.assert_refused(runner, "filled")
    world.assert_refused(runner, "ready")

    records = world.records()
    assert [r["kind"] for r in records[-2:]] == ["refused", "refused"]
    assert records[-1]["seq"] == records[-2]["seq"] + 1
