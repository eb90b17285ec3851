"""The simulator's own errors. The engine's adapters (engine/brokers/sim.py) turn them into the engine's errors,
and serve-sim into Alpaca's HTTP answers, so the simulator depends on neither."""

from __future__ import annotations


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class SimDataError(SimError):
    """A data file is missing, malformed or of another day; or the market has no answer (closed, not listed)."""


class SimOrderRejected(SimError):
    """The paper exchange refuses an order or a cancel, saying why: a request it will not carry out (422)."""

    status = 422


class SimOrderForbidden(SimOrderRejected):
    """A well-formed order the account may not place now: the market is closed, it is past the 15:30 cutoff
    for options expiring today, the buying power or the position to close is short. Alpaca answers these 403."""

    status = 403


class SimNotFound(SimError):
    """No such order."""
