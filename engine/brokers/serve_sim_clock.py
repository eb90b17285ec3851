"""The clock of a serve-sim endpoint, and how to tell one apart: apart from the Alpaca adapter, which must
work the same against Alpaca and against serve-sim and so knows nothing of serve-sim's /sim/* paths.

The composition root asks `is_simulator` and hands the adapter the clock that fits: this one, whose sleep
moves the server's simulated time, or the wall clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests

from engine.errors import BrokerError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class RemoteSimClock:
    """Market time of a serve-sim server: sleeping asks the server to advance its clock instead of waiting."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        self._url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        self._session.headers.update(headers)
        info = self._session.get(f"{self._url}/sim/info", timeout=timeout).json()
        self._now = datetime.fromisoformat(info["now"])

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float, attempts: int = 5) -> None:
        """Advance to an absolute time (`until`), so a retried request cannot move the clock twice."""
        if seconds <= 0:
            return
        until = (self._now + timedelta(seconds=seconds)).isoformat()
        for _ in range(attempts):
            try:
                r = self._session.post(f"{self._url}/sim/advance", json={"until": until}, timeout=self._timeout)
                r.raise_for_status()
                self._now = datetime.fromisoformat(r.json()["now"])
                return
            except (requests.RequestException, ValueError, KeyError) as exc:
                last = exc
        raise BrokerError(f"POST /sim/advance failed {attempts} times: {type(last).__name__}", transient=True)


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
