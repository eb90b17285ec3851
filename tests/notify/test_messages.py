"""The records that no default day produces, turned into messages: a halt that keeps positions, a resume, an error
outside a trading state; and a record that cannot be read is logged, never raised into the engine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loguru import logger

from engine.alerts import Alerts
from engine.calendar import ET
from engine.config import Config
from engine.notify import Message

AT = datetime(2025, 7, 1, 11, 5, tzinfo=ET)


class Sent:
    """A notifier that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, message: Message) -> None:
        self.messages.append(message)


def _told(*records: tuple[str, dict[str, Any]]) -> list[Message]:
    sent = Sent()
    alerts = Alerts(Config(), sent)
    for kind, fields in records:
        alerts.record(kind, AT, fields)
    return sent.messages


def _move(trigger: str, source: str, dest: str, reason: str) -> tuple[str, dict[str, Any]]:
    return "transition", {"trigger": trigger, "source": source, "dest": dest, "reason": reason}


def test_an_outage_halt_says_positions_are_kept_and_its_resume_is_told() -> None:
    outage = "no bar for 660s (data outage)"
    told = _told(
        _move("halt", "Monitoring", "Halted", outage),
        ("halt", {"reason": outage, "flatten": False, "resumable": True}),
        _move("resume", "Halted", "Scanning", f"cleared: {outage}"),
    )
    assert [(m.event, m.title, m.body, m.level) for m in told] == [
        ("halt", "zdte: halted", f"11:05 ET: {outage}; no entries until it clears; open positions kept", "warning"),
        ("resume", "zdte: resumed", f"11:05 ET: cleared: {outage}; entries allowed again", "info"),
    ]


def test_a_trade_count_halt_says_exits_are_still_managed() -> None:
    reason = "max_daily_trades reached (3)"
    [m] = _told(("halt", {"reason": reason, "flatten": False, "resumable": False}))
    assert m.body == f"11:05 ET: {reason}; no more entries today; open positions still managed"


def test_an_error_outside_a_trading_state_is_told_as_the_shutdown_it_causes() -> None:
    told = _told(
        _move("session_end", "Scanning", "ShuttingDown", "hard exit 15:15 ET reached, flat"),
        _move("shutdown", "AwaitingOpen", "ShuttingDown", "error: KeyError: 'open'"),
    )
    assert [(m.event, m.body) for m in told] == [
        ("error", "11:05 ET: unexpected error in AwaitingOpen: KeyError: 'open'; shutting down")
    ]


def test_a_record_that_cannot_be_read_is_logged_and_not_raised() -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        assert _told(("opened", {"trade_no": 1})) == []
    finally:
        logger.remove(sink)
    assert lines == ["alerts: no alert for the opened record (KeyError: 'direction')"]
