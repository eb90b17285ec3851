"""The clock of a serve-sim endpoint, and how to tell one apart: apart from the Alpaca adapter, which must
work the same against Alpaca and against serve-sim and so knows nothing of serve-sim's /sim/* paths.

The composition root asks `is_simulator` and hands the adapter the clock that fits: this one, whose sleep
moves the server's simulated time, or the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from engine.errors import BrokerError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


ATTEMPTS = 5

Settle = Callable[[dict[str, list[int]]], bool]
"""A streamed client's wait for what serve-sim says it has sent its connections (AlpacaFeed.settle)."""


class RemoteSimClock:
    """Market time of a serve-sim server: sleeping asks the server to advance its clock instead of waiting.

    A streamed run's sleep that waits for `events` asks the server to stop at the first moment its streams
    publish something (the simulated market's "an event arrived"); after every move the streams are given
    time to bring what was published up to it (`settle`), so the next step sees all of it, as on the wall.
    """

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        self._url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        self._session.headers.update(headers)
        self.info = self._session.get(f"{self._url}/sim/info", timeout=timeout).json()
        """What /sim/info said at the start (the stream URLs among it)."""
        self._now = datetime.fromisoformat(self.info["now"])
        self.settle: Settle | None = None

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float, events: bool = False) -> None:
        """Advance to an absolute time (`until`), so a retried request cannot move the clock twice."""
        if seconds <= 0:
            return
        body: dict[str, Any] = {"until": (self._now + timedelta(seconds=seconds)).isoformat()}
        if events:
            body["until_event"] = True
        for _ in range(ATTEMPTS):
            try:
                r = self._session.post(f"{self._url}/sim/advance", json=body, timeout=self._timeout)
                r.raise_for_status()
                answer = r.json()
                self._now = datetime.fromisoformat(answer["now"])
                break
            except (requests.RequestException, ValueError, KeyError) as exc:
                last = exc
        else:
            raise BrokerError(f"POST /sim/advance failed {ATTEMPTS} times: {type(last).__name__}", transient=True)
        if self.settle is not None and answer.get("streams"):
            self.settle(answer["streams"])


def is_simulator(base_url: str, timeout: float, attempts: int = 3) -> bool:
    """True when the endpoint is zdte's serve-sim: a loopback host that answers GET /sim/info (no keys needed).

    Only a loopback endpoint is asked, and one that does not answer at all is an error, not a silent
    fall-back to the wall clock (which would leave a simulated session waiting in real time).
    """
    if (urlsplit(base_url).hostname or "") not in LOOPBACK_HOSTS:
        return False
    for _ in range(attempts):
        try:
            r = requests.get(f"{base_url.rstrip('/')}/sim/info", timeout=timeout)
        except requests.RequestException:
            continue
        if r.status_code == 404:
            return False  # a loopback proxy in front of Alpaca: real time
        try:
            if r.status_code == 200 and r.json().get("simulator") is True:
                return True
        except ValueError:
            pass
        raise BrokerError(f"{base_url}/sim/info answered {r.status_code}: not a zdte simulator, nor a proxy to Alpaca")
    raise BrokerError(f"{base_url} does not answer (tried {attempts} times): is serve-sim running?", transient=True)
