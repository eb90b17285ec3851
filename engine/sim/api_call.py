"""One call of the simulated Alpaca API as its endpoints see it: the request, read, and the reply.

Apart from the router (engine/sim/alpaca_api.py) so that the endpoint modules it routes to can build replies
without importing the router back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.sim import alpaca_json as aj
from engine.sim.query import Query


@dataclass(slots=True)
class Request:
    """What an endpoint handler reads: the query, the parameters in the path, the JSON body (None: none)."""

    query: Query
    params: dict[str, str]
    body: Any


@dataclass(slots=True)
class Reply:
    """Status, a JSON-encodable body (None: no body) and extra headers; the transport encodes it."""

    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


def error_reply(status: int, code: int, message: str) -> Reply:
    """An error in Alpaca's form, which alpaca-py turns into its APIError with the code and message."""
    return Reply(status, aj.error(code, message))
