"""engine/notify.py on its own: what apprise's json:// delivers, retries to the failed URLs only, each attempt and the
final drain bounded, and never a URL in the logs."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from engine.notify import Message, Notifier
from tests.notify.conftest import Receiver, no_wait

TOKEN = "T0KEN-in-the-path-4242"


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """The WARNING lines logged meanwhile (from any thread)."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)


def test_a_message_reaches_every_url_with_its_title_body_level_and_attachments(
    make_receiver, tmp_path: Path
) -> None:
    a, b = make_receiver(), make_receiver()
    chart = tmp_path / "report-20250701-trades.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    notifier = Notifier([a.url("/one"), b.url("/two")], timeout_s=30, retries=0)

    notifier.send(Message("day_summary", "zdte: 2025-07-01 P&L -70.00", "1 trade(s)", "warning", (chart,)))
    assert notifier.close()

    for receiver, path in ((a, "/one"), (b, "/two")):
        [post] = receiver.posts
        assert (post["path"], post["title"], post["message"], post["type"]) == (
            path, "zdte: 2025-07-01 P&L -70.00", "1 trade(s)", "warning"
        )
        [attached] = post["attachments"]
        assert attached["filename"] == chart.name and attached["mimetype"] == "image/png"
        assert base64.b64decode(attached["base64"]) == chart.read_bytes()


def test_a_failing_url_is_retried_after_a_doubling_backoff_and_the_others_are_sent_once(
    make_receiver, warnings: list[str]
) -> None:
    failing, fine = make_receiver(status=500), make_receiver()
    waits: list[float] = []
    notifier = Notifier([failing.url(f"/{TOKEN}"), fine.url()], timeout_s=30, retries=3, wait=waits.append)

    notifier.send(Message("fill", "zdte: trade 1 filled", "credit 0.61"))
    assert notifier.close()

    assert len(failing.posts) == 4 and len(fine.posts) == 1  # 1 attempt + 3 retries; no duplicate to the good one
    assert waits == [1.0, 2.0, 4.0]
    [warning] = warnings
    assert "alert fill not sent to url 1 (json) after 4 attempt(s)" in warning
    assert TOKEN not in warning and "127.0.0.1" not in warning


def test_a_service_that_never_answers_costs_one_timeout_per_attempt_then_is_given_up(
    make_receiver, warnings: list[str]
) -> None:
    hold = threading.Event()
    hanging = make_receiver(hold=hold)
    notifier = Notifier([hanging.url()], timeout_s=0.5, retries=1, wait=no_wait)
    try:
        notifier.send(Message("exit", "zdte: trade 1 closed", "P&L -70.00"))
        assert notifier.close()  # the worker finished: each attempt was abandoned at its bound, not waited out
        [warning] = warnings
        assert "after 2 attempt(s): an error answer, no connection, or no answer within 0.5s" in warning
    finally:
        hold.set()
    assert len(hanging.wait_for(2)) == 2  # the attempt and its retry both reached the service


def test_close_is_bounded_so_a_hanging_service_cannot_hold_the_exit(make_receiver, warnings: list[str]) -> None:
    hold = threading.Event()
    hanging = make_receiver(hold=hold)
    notifier = Notifier([hanging.url()], timeout_s=0.3, retries=0, wait=no_wait)
    try:
        for n in range(5):  # five attempts that each wait their full 0.3 s: more than the bound of one message
            notifier.send(Message("fill", f"trade {n}", "x"))
        assert notifier.drain_bound_s == pytest.approx(0.3)
        assert not notifier.close()
        assert any("gave up waiting" in w for w in warnings)
    finally:
        hold.set()
        hanging.wait_for(5)  # the rest goes out once released: nothing of this test's is left to fail in the next


def test_a_url_apprise_cannot_use_is_skipped_and_named_without_its_token(
    receiver: Receiver, warnings: list[str]
) -> None:
    notifier = Notifier([f"bogus://{TOKEN}", f"no-scheme-{TOKEN}", receiver.url()], timeout_s=30, retries=0)

    notifier.send(Message("start", "zdte: started", "09:00 ET"))
    assert notifier.close()

    assert receiver.titles() == ["zdte: started"]
    assert warnings == [
        "alerts: url 1 (bogus) is not a URL apprise can send to; it is skipped",
        "alerts: url 2 (no scheme) is not a URL apprise can send to; it is skipped",
    ]
