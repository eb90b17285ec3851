"""The Feed port on alpaca-py's stream clients (engine/brokers/alpaca_feed.py) against serve-sim's streams: what a
connection that fails, is refused or subscribes tells the engine, and serve-sim's clock stopping at the first
event and settling on what it published.

Every wait is bounded and on something the feed or the server reports (the feed's news callback, the server's
sessions), never a sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from engine.brokers.alpaca_feed import AlpacaFeed
from engine.brokers.serve_sim_clock import RemoteSimClock
from engine.config import AlpacaConfig, StreamConfig
from engine.feed import FeedBatch, Stream, StreamNews
from tests.sim_server.conftest import KEY, SECRET

WAIT = 5.0


class Listening:
    """A feed and everything it drained; `until` waits on the feed's own news callback."""

    def __init__(self, sim, secret: str = SECRET) -> None:
        self.told = threading.Event()
        self.feed = AlpacaFeed(
            KEY, secret, AlpacaConfig(), StreamConfig(min_interval_s=0.0), sim.server.streams.urls, self.told.set
        )
        for client in self.feed._clients.values():
            client._reconnect_min_backoff = 0.05
        self.batches: list[FeedBatch] = []

    def news(self) -> list[StreamNews]:
        return [n for b in self.batches for n in b.news]

    def until(self, predicate, what: str) -> None:
        deadline = WAIT
        while not predicate():
            if not self.told.wait(deadline):
                raise AssertionError(f"no {what} within {WAIT}s; news so far: {self.news()}")
            self.told.clear()
            self.batches.append(self.feed.drain())


@pytest.fixture
def listening(make_sim) -> Iterator:
    made: list[Listening] = []

    def make(secret: str = SECRET, **server: object) -> tuple[object, Listening]:
        sim = make_sim(streams=True, **server)
        lst = Listening(sim, secret)
        made.append(lst)
        return sim, lst

    yield make
    for lst in made:
        lst.feed.close()


def test_refused_keys_are_news_with_the_reason_and_never_a_connection(listening) -> None:
    _, lst = listening(secret="not-the-secret")
    lst.feed.follow("SPY", ())
    lst.until(lambda: {n.stream for n in lst.news()} >= {Stream.STOCKS, Stream.TRADING}, "refusal news")
    assert all(not n.up and n.why.startswith("connection failed") for n in lst.news()), lst.news()


def test_a_406_refusal_is_told_then_the_reconnect_that_succeeds(listening) -> None:
    sim, lst = listening()
    sim.server.streams.refuse("/v2/iex", times=1)
    lst.feed.follow("SPY", ())
    stocks = lambda: [n for n in lst.news() if n.stream is Stream.STOCKS]  # noqa: E731
    lst.until(lambda: any(n.up for n in stocks()), "the stock stream connecting")
    first, *_, last = stocks()
    assert not first.up and "connection limit exceeded" in first.why
    assert last.up


def test_following_subscribes_and_unfollowing_unsubscribes_the_option_quotes(listening) -> None:
    sim, lst = listening()
    streams = sim.server.streams
    legs = ("SPY250701C00605000", "SPY250701P00595000")
    lst.feed.follow("SPY", legs)
    subscribed = lambda want: lambda vs: any(  # noqa: E731
        v.path == "/v1beta1/indicative" and set(v.subscriptions.get("quotes", ())) == set(want) for v in vs
    )
    assert streams.wait_for(subscribed(legs), WAIT)
    assert streams.wait_for(lambda vs: any(v.path == "/v2/iex" and "SPY" in v.subscriptions["bars"] for v in vs), WAIT)
    lst.feed.follow("SPY", legs[:1])
    assert streams.wait_for(subscribed(legs[:1]), WAIT), "narrowed to what is followed now"


def test_the_simulated_clock_stops_at_the_first_event_and_the_feed_holds_it_at_once(listening) -> None:
    sim, lst = listening()
    legs = ("SPY250701C00605000",)
    sim.at_least(10, 0, 20)
    clock = RemoteSimClock(sim.url, sim.headers, 5.0)
    clock.settle = lst.feed.settle
    lst.feed.follow("SPY", legs)
    streams = sim.server.streams
    assert streams.wait_for(lambda vs: any(set(legs) <= set(v.subscriptions.get("quotes", ())) for v in vs), WAIT)
    assert streams.wait_for(lambda vs: any(v.subscriptions.get("bars") for v in vs), WAIT)
    start = clock.now()
    clock.sleep(600, events=True)
    stop = clock.now()
    assert stop - start < timedelta(seconds=60) and stop.second == 0, "the next minute boundary, not 10 minutes on"
    batch = lst.feed.drain()
    assert batch.bars is not None and len(batch.bars) == 1, "the bar that ended there, read before the sleep returned"
    assert [q.symbol for q in batch.quotes] == list(legs) and batch.quotes[0].ts == stop
    snap = sim.get(f"/v1beta1/options/snapshots?symbols={legs[0]}").json()["snapshots"][legs[0]]["latestQuote"]
    assert (batch.quotes[0].bid, batch.quotes[0].ask) == (snap["bp"], snap["ap"]), "the stream's quote is REST's"

    clock.sleep(600)
    assert clock.now() - stop == timedelta(seconds=600), "without events the sleep is the whole of it"
