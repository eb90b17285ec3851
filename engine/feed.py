"""The Feed port's vocabulary: what the streams delivered between two of the machine's steps.

Stream clients run in their own threads and only put what they receive on a queue; the machine's thread
drains it, once a step, through the Feed port. So what the streams told the engine is one recorded answer
per step (replay re-drives a streamed day from it, its fallbacks included), and nothing but the machine's
thread ever acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from engine.models import Bars, OptionQuote


class Stream(StrEnum):
    STOCKS = "stocks"
    """The underlying's minute bars."""
    OPTIONS = "options"
    """The followed contracts' quotes."""
    TRADING = "trading"
    """Trade updates of the account's orders."""


@dataclass(frozen=True, slots=True)
class StreamNews:
    """A stream connected (authenticated and subscribed) or lost, and why: control, never data, so a stream
    that is connected but silent is told apart from one that delivers."""

    stream: Stream
    up: bool
    why: str


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Everything delivered since the last drain, oldest first within each kind."""

    bars: Bars | None = None
    """The underlying's completed minute bars (None: none arrived)."""
    quotes: tuple[OptionQuote, ...] = ()
    orders: tuple[str, ...] = ()
    """The ids of the orders a trade update was about, in arrival order (repeats kept)."""
    news: tuple[StreamNews, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.bars is None and not self.quotes and not self.orders and not self.news


NOTHING = FeedBatch()


class NoFeed:
    """The feed of a run that polls (data.source: poll, or the embedded simulator): never asked."""

    def follow(self, underlying: str, options: tuple[str, ...]) -> None:
        raise RuntimeError("this run polls: it has no streams to follow")

    def drain(self) -> FeedBatch:
        raise RuntimeError("this run polls: it has no streams to drain")
