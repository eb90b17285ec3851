"""A streamed run's market data: streamed bars and quotes while a stream delivers, REST while it is down or silent,
and every switch journaled with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from engine.calendar import ET
from engine.config import StreamConfig
from engine.feed import FeedBatch, Stream, StreamNews
from engine.models import Bars, OptionQuote
from engine.streamed import StreamedMarket

OPEN = datetime(2025, 7, 1, 9, 30, tzinfo=ET)
CFG = StreamConfig(silence_s=90.0)


def at(minutes: float) -> datetime:
    return OPEN + timedelta(minutes=minutes)


def bar_rows(*minutes: int, symbol: str = "SPY") -> Bars:
    ts = np.array([int(at(m).astimezone(UTC).timestamp()) for m in minutes], dtype=np.int64)
    close = np.array([600.0 + m for m in minutes])
    return Bars(symbol, ts, close, close + 0.5, close - 0.5, close, np.full(len(ts), 100.0))


def q(symbol: str, minute: float, bid: float = 1.0) -> OptionQuote:
    return OptionQuote(symbol, bid, bid + 0.1, at(minute))


@dataclass
class FakeFeed:
    batches: list[FeedBatch] = field(default_factory=list)
    follows: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def follow(self, underlying: str, options: tuple[str, ...]) -> None:
        self.follows.append((underlying, options))

    def drain(self) -> FeedBatch:
        return self.batches.pop(0) if self.batches else FeedBatch()


@dataclass
class FakeRest:
    asked: list[tuple[str, Any]] = field(default_factory=list)

    def bars(self, symbol: str, start: datetime, end: datetime) -> Bars:
        self.asked.append(("bars", (start, end)))
        return bar_rows(0, symbol=symbol)

    def chain(self, underlying: str, expiry: Any, lo: float, hi: float) -> list[OptionQuote]:
        self.asked.append(("chain", (lo, hi)))
        return [q("C1", 0, 0.5), q("P1", 0, 0.7)]

    def quotes(self, symbols: Any) -> dict[str, OptionQuote]:
        self.asked.append(("quotes", tuple(symbols)))
        return {s: q(s, 0, 9.0) for s in symbols}


@pytest.fixture
def world() -> tuple[StreamedMarket, FakeFeed, FakeRest, list[dict[str, Any]]]:
    feed, rest, journal = FakeFeed(), FakeRest(), []
    live = StreamedMarket(rest, feed, "SPY", CFG, lambda kind, **f: journal.append({"kind": kind, **f}))
    return live, feed, rest, journal


UP = {s: StreamNews(s, True, "connected") for s in Stream}


def test_bars_come_from_rest_until_the_stream_covers_what_is_asked(world) -> None:
    live, feed, rest, journal = world
    feed.batches = [FeedBatch(news=(UP[Stream.STOCKS],)), FeedBatch(bars=bar_rows(10))]
    live.pump(at(10.5), in_hours=True)
    live.pump(at(11), in_hours=True)
    assert journal == [{"kind": "feed", "stream": "stocks", "source": "stream", "reason": "delivering"}]

    live.bars("SPY", at(-50), at(11))  # the look back reaches before the stream's first bar
    assert [a[0] for a in rest.asked] == ["bars"]
    streamed = live.bars("SPY", at(10), at(11))
    assert streamed.close.tolist() == [610.0] and len(rest.asked) == 1


def test_a_dropped_stock_stream_falls_back_at_once_and_its_gap_is_filled_by_rest(world) -> None:
    live, feed, rest, journal = world
    down = StreamNews(Stream.STOCKS, False, "connection closed")
    feed.batches = [
        FeedBatch(news=(UP[Stream.STOCKS],), bars=bar_rows(10)),
        FeedBatch(news=(down,)),
        FeedBatch(news=(UP[Stream.STOCKS],), bars=bar_rows(14)),
    ]
    live.pump(at(11), in_hours=True)
    live.pump(at(12), in_hours=True)
    assert journal[-1] == {"kind": "feed", "stream": "stocks", "source": "poll", "reason": "connection closed"}
    live.bars("SPY", at(11), at(12))
    assert rest.asked[-1][0] == "bars"

    live.pump(at(15), in_hours=True)  # back, but bars 11-13 never came by stream
    assert journal[-1]["source"] == "stream"
    live.bars("SPY", at(11), at(15))
    assert len(rest.asked) == 2, "the gap is asked of REST, not answered with the stream's bars alone"
    assert live.bars("SPY", at(14), at(15)).close.tolist() == [614.0]


def test_a_connected_but_silent_stream_is_left_for_rest_then_taken_back_when_it_delivers(world) -> None:
    live, feed, rest, journal = world
    feed.batches = [FeedBatch(news=(UP[Stream.STOCKS],), bars=bar_rows(10))]
    live.pump(at(11), in_hours=True)
    live.pump(at(11) + timedelta(seconds=90), in_hours=True)
    assert live.streaming(Stream.STOCKS), "silent for exactly silence_s: not yet"
    live.pump(at(11) + timedelta(seconds=91), in_hours=True)
    assert not live.streaming(Stream.STOCKS)
    silent = {"kind": "feed", "stream": "stocks", "source": "poll", "reason": "connected but silent for 91s"}
    assert journal[-1] == silent
    feed.batches = [FeedBatch(bars=bar_rows(13))]
    live.pump(at(14), in_hours=True)
    assert journal[-1]["source"] == "stream" and len(journal) == 3


def test_no_silence_is_judged_outside_market_hours(world) -> None:
    live, feed, _, journal = world
    feed.batches = [FeedBatch(news=(UP[Stream.STOCKS],), bars=bar_rows(389))]
    live.pump(at(390), in_hours=True)
    live.pump(at(390 + 60), in_hours=False)
    assert live.streaming(Stream.STOCKS) and len(journal) == 1


def test_control_messages_alone_never_make_a_data_stream_sound(world) -> None:
    live, feed, _, journal = world
    feed.batches = [FeedBatch(news=(UP[Stream.STOCKS], UP[Stream.TRADING]))]
    live.pump(at(1), in_hours=True)
    assert not live.streaming(Stream.STOCKS)
    assert live.streaming(Stream.TRADING), "the trading stream is judged by its connection: it is quiet by nature"
    assert [j["stream"] for j in journal] == ["trading"]


def test_quotes_come_from_the_stream_and_what_it_lacks_or_let_go_stale_from_rest(world) -> None:
    live, feed, rest, _ = world
    feed.batches = [FeedBatch(news=(UP[Stream.OPTIONS],)), FeedBatch(quotes=(q("A", 5, 2.0), q("B", 5, 3.0)))]
    live.quotes(["A", "B", "C"])  # follows them; nothing streamed yet: REST
    assert rest.asked == [("quotes", ("A", "B", "C"))]
    live.pump(at(5), in_hours=True)
    live.pump(at(5.5), in_hours=True)
    got = live.quotes(["A", "B", "C"])
    assert got["A"].bid == 2.0 and got["B"].bid == 3.0, "streamed quotes answer"
    assert rest.asked[-1] == ("quotes", ("C",)) and got["C"].bid == 9.0, "only the one never streamed is asked"

    live.pump(at(5.5) + timedelta(seconds=91), in_hours=True)
    live.quotes(["A", "B"])
    assert rest.asked[-1] == ("quotes", ("A", "B")), "the stream went silent: every quote is asked"


def test_a_quote_the_stream_stopped_sending_is_asked_of_rest_while_the_others_stream(world) -> None:
    live, feed, rest, _ = world
    feed.batches = [
        FeedBatch(news=(UP[Stream.OPTIONS],), quotes=(q("A", 1), q("B", 1))),
        FeedBatch(quotes=(q("A", 2),)),
    ]
    live.quotes(["A", "B"])
    live.pump(at(1), in_hours=True)
    live.pump(at(2), in_hours=True)
    rest.asked.clear()
    live.quotes(["A", "B"])
    assert rest.asked == []
    live.pump(at(2) + timedelta(seconds=31), in_hours=True)  # B last quoted 91 s ago, A 31 s ago
    live.quotes(["A", "B"])
    assert rest.asked == [("quotes", ("B",))]


def test_an_older_quote_arriving_late_does_not_replace_a_newer_one(world) -> None:
    live, feed, _, _ = world
    feed.batches = [FeedBatch(news=(UP[Stream.OPTIONS],), quotes=(q("A", 3, 2.0), q("A", 2, 1.0)))]
    live.quotes(["A"])
    live.pump(at(3), in_hours=True)
    assert live.quotes(["A"])["A"].bid == 2.0


def test_following_changes_only_when_the_asked_contracts_change(world) -> None:
    live, feed, rest, _ = world
    live.pump(at(0), in_hours=True)
    assert feed.follows == [("SPY", ())], "the underlying's bars and the trade updates from the first step"
    live.chain("SPY", None, 590.0, 610.0)
    assert feed.follows[-1] == ("SPY", ("C1", "P1")), "while scanning, the chain's contracts stream"
    live.quotes(["P1"])
    live.quotes(["P1"])
    assert feed.follows[-1] == ("SPY", ("P1",)) and len(feed.follows) == 3
    assert ("chain", (590.0, 610.0)) in rest.asked, "the chain (greeks) always comes from REST"


def test_a_new_day_forgets_yesterdays_bars_and_quotes(world) -> None:
    live, feed, rest, _ = world
    both = (UP[Stream.STOCKS], UP[Stream.OPTIONS])
    feed.batches = [FeedBatch(news=both, bars=bar_rows(10), quotes=(q("A", 10),))]
    live.quotes(["A"])
    live.pump(at(11), in_hours=True)
    live.new_day(at(11).date())
    rest.asked.clear()
    live.bars("SPY", at(10), at(11))
    live.quotes(["A"])
    assert [a[0] for a in rest.asked] == ["bars", "quotes"]
