"""The option stream's subscription while it connects: alpaca-py sends the whole subscription on connecting and
marks the connection running only after, so a follow() in that window must still reach the server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

import msgpack

from engine.brokers.alpaca_feed import _Options
from engine.feed import Stream

HELD, DROPPED, NEW = "SPY250701C00605000", "SPY250701P00595000", "SPY250701P00590000"


async def _handler(_: Any) -> None:
    return None


class _Wire:
    """A connection that records what the client sends; the first send lets `during` run, as the engine's
    thread would while the subscription is on its way."""

    def __init__(self, during) -> None:
        self.sent: list[dict[str, Any]] = []
        self._during = during

    async def send(self, message: bytes | Iterable[bytes]) -> None:
        data = message if isinstance(message, bytes) else b"".join(message)
        self.sent.append(msgpack.unpackb(data))
        if self._during is not None:
            during, self._during = self._during, None
            during()


def _client(during) -> tuple[_Options, _Wire]:
    client = _Options("key", "secret", raw_data=True, url_override="ws://127.0.0.1:1/v1beta1/indicative")
    client.zdte_setup(Stream.OPTIONS, lambda _: None, threading.Condition())
    client._handlers["quotes"].update({HELD: _handler, DROPPED: _handler})
    wire = _Wire(during)
    client._ws = wire
    return client, wire


def test_a_leg_unfollowed_while_the_subscription_is_on_its_way_is_unsubscribed_at_once() -> None:
    client, wire = _client(None)
    client._running = False

    def unfollow() -> None:  # what follow() does while the client is not running yet: the handler only
        assert client._running is False
        del client._handlers["quotes"][DROPPED]

    wire._during = unfollow
    asyncio.run(client._send_subscribe_msg())
    assert wire.sent[0]["action"] == "subscribe" and set(wire.sent[0]["quotes"]) == {HELD, DROPPED}
    assert wire.sent[1:] == [{"action": "unsubscribe", "quotes": [DROPPED]}]
    assert client._running is True, "later follows are sent by alpaca-py itself"


def test_a_leg_followed_while_the_subscription_is_on_its_way_is_subscribed_at_once() -> None:
    client, wire = _client(None)
    wire._during = lambda: client._handlers["quotes"].update({NEW: _handler})
    asyncio.run(client._send_subscribe_msg())
    assert [m["action"] for m in wire.sent] == ["subscribe", "subscribe"]
    assert set(wire.sent[-1]["quotes"]) == {HELD, DROPPED, NEW}


def test_nothing_more_is_sent_when_nothing_changed_meanwhile() -> None:
    client, wire = _client(None)
    asyncio.run(client._send_subscribe_msg())
    assert len(wire.sent) == 1 and set(wire.sent[0]["quotes"]) == {HELD, DROPPED}
