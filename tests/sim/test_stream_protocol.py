"""What a stream connection is answered (engine/sim/stream_protocol.py), without a socket: each of Alpaca's error
codes the simulator sends, and the subscription listing."""

from __future__ import annotations

from datetime import UTC, datetime

import msgpack
import pytest

from engine.sim import stream_wire as wire
from engine.sim.stream_protocol import ENDPOINTS, DataSession, TradingSession


def keys_ok(key: str, secret: str) -> bool:
    return (key, secret) == ("k", "s")


def session(path: str, slot_free: bool = True) -> DataSession:
    return DataSession(ENDPOINTS[path], keys_ok, lambda: slot_free)


AUTH = {"action": "auth", "key": "k", "secret": "s"}


def codes(step) -> list:
    return [r.get("code") or r.get("msg") for r in step.replies]


def test_auth_answers_and_refusals() -> None:
    s = session("/v2/iex")
    assert s.opening(packed=False).replies == [{"T": "success", "msg": "connected"}]  # stocks speak JSON too
    assert codes(s.on_message({"action": "subscribe", "bars": ["SPY"]})) == [401]
    bad = s.on_message({"action": "auth", "key": "k", "secret": "nope"})
    assert bad.replies == [{"T": "error", "code": 402, "msg": "auth failed"}] and bad.close
    ok = s.on_message(AUTH)
    assert ok.replies == [{"T": "success", "msg": "authenticated"}] and ok.changed and not ok.close
    assert codes(s.on_message(AUTH)) == [403]
    full = session("/v2/sip", slot_free=False).on_message(AUTH)
    assert full.replies == [{"T": "error", "code": 406, "msg": "connection limit exceeded"}] and full.close


@pytest.mark.parametrize(
    "message", [[1, 2], {"no": "action"}, {"action": "dance"}, {"action": "subscribe", "bars": "SPY"}]
)
def test_what_cannot_be_read_is_400(message) -> None:
    s = session("/v2/iex")
    s.on_message(AUTH)
    assert codes(s.on_message(message)) == [400]


def test_subscriptions_are_listed_whole_and_star_matches_every_symbol() -> None:
    s = session("/v2/iex")
    s.on_message(AUTH)
    s.on_message({"action": "subscribe", "bars": ["SPY"], "trades": ["QQQ"]})
    step = s.on_message({"action": "subscribe", "quotes": ["*"], "bars": ["IWM"]})
    assert step.replies == [
        {
            "T": "subscription",
            "trades": ["QQQ"],
            "quotes": ["*"],
            "bars": ["IWM", "SPY"],
            "updatedBars": [],
            "dailyBars": [],
            "statuses": [],
            "lulds": [],
            "corrections": ["QQQ"],
            "cancelErrors": ["QQQ"],
        }
    ]
    assert s.wants("quotes", "SPY") and s.wants("bars", "SPY") and not s.wants("trades", "SPY")
    s.on_message({"action": "unsubscribe", "bars": ["SPY"]})
    assert not s.wants("bars", "SPY") and s.subscriptions["bars"] == {"IWM"}


def test_option_streams_refuse_json_star_quotes_and_bars() -> None:
    s = session("/v1beta1/indicative")
    refused = s.opening(packed=False)
    assert refused.replies == [
        {"T": "error", "code": 412, "msg": "option messages are only available in MsgPack format"}
    ] and refused.close
    assert s.opening(packed=True).replies == [{"T": "success", "msg": "connected"}]
    s.on_message(AUTH)
    symbol = "SPY250701C00600000"
    star = s.on_message({"action": "subscribe", "quotes": ["*", symbol]})
    assert star.replies == [{"T": "error", "code": 413, "msg": "star subscription is not allowed for option quotes"}]
    assert s.subscriptions == {"trades": set(), "quotes": set()}  # all or nothing
    assert codes(s.on_message({"action": "subscribe", "bars": [symbol]})) == [410]
    step = s.on_message({"action": "subscribe", "trades": ["*"], "quotes": [symbol]})
    assert step.replies == [{"T": "subscription", "trades": ["*"], "quotes": [symbol]}]


def test_trading_stream_authorizes_then_listens() -> None:
    t = TradingSession(keys_ok)
    early = t.on_message({"action": "listen", "data": {"streams": ["trade_updates"]}})
    assert early.replies == [{"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}]
    bad = t.on_message({"action": "authenticate", "data": {"key_id": "k", "secret_key": "x"}})
    assert bad.replies == [{"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate"}}]
    assert bad.close
    ok = t.on_message({"action": "authenticate", "data": {"key_id": "k", "secret_key": "s"}})
    assert ok.replies == [{"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}]
    step = t.on_message({"action": "listen", "data": {"streams": ["trade_updates", "account_updates"]}})
    assert step.replies == [{"stream": "listening", "data": {"streams": ["trade_updates"]}}] and t.listening
    t.on_message({"action": "listen", "data": {"streams": []}})
    assert not t.listening


def test_times_are_msgpack_timestamps_or_rfc3339() -> None:
    t = datetime(2025, 7, 1, 13, 30, 59, 999000, tzinfo=UTC)
    quote = wire.stock_quote("SPY", t, 600.1512)
    packed = msgpack.unpackb(wire.encode([quote], packed=True))
    assert isinstance(packed[0]["t"], msgpack.Timestamp) and packed[0]["t"].to_datetime() == t
    assert '"t":"2025-07-01T13:30:59.999000Z"' in str(wire.encode([quote], packed=False))
    assert (quote["bp"], quote["ap"]) == (600.14, 600.16)  # a cent either side of the close, to the cent
    with pytest.raises(ValueError):
        wire.decode(b"\xc1", packed=True)
