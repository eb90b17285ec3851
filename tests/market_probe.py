"""What a test of fills over time needs to find in a simulated market: shared by the stream feed's tests and the
stream server's."""

from __future__ import annotations

from datetime import datetime

from engine.sim.market import SimMarket


def later_fill(mk: SimMarket, now: datetime) -> tuple[str, float, int]:
    """A call near the money, a limit and the minute it first fills at: the lowest ask of the next 25 minutes,
    below the ask now."""
    m0 = mk.minute(now)
    for c in mk.contracts():
        if c.right.value != "C" or abs(c.strike - mk.spot(now)) > 3:
            continue
        asks = [mk.bid_ask(c.symbol, m)[1] for m in range(m0, m0 + 26)]
        low = min(asks[1:])
        if low < asks[0]:
            return c.symbol, low, m0 + next(i for i, a in enumerate(asks) if a <= low)
    raise AssertionError("no call whose ask falls within 25 minutes")
