"""The simulator's own errors. The engine's adapters (engine/brokers/sim.py) turn them into the engine's errors,
and serve-sim into Alpaca's HTTP answers, so the simulator depends on neither."""

from __future__ import annotations


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class SimDataError(SimError):
    """A data file is missing, malformed or of another day; or the market has no answer (closed, not listed)."""


class SimOrderRejected(SimError):
    """The paper exchange refuses an order or a cancel, saying why."""

    status = 422


class SimNotFound(SimError):
    """No such order."""
