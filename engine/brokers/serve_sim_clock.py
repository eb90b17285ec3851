"""The clock of a serve-sim endpoint, and how to tell one apart: apart from the Alpaca adapter, which must
work the same against Alpaca and against serve-sim and so knows nothing of serve-sim's /sim/* paths.

The composition root asks `is_simulator` and hands the adapter the clock that fits: this one, whose sleep
moves the server's simulated time, or the wall clock.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from engine.brokers.loopback_http import LOOPBACK_HOSTS, LoopbackConnection, host_header
from engine.errors import BrokerError

ATTEMPTS = 5

Settle = Callable[[dict[str, list[int]]], bool]
"""A streamed client's wait for what serve-sim says it has sent its connections (AlpacaFeed.settle)."""


class _Link:
    """One kept-alive HTTP connection to serve-sim (engine/brokers/loopback_http.py's, which a failed call closes, so
    the next one starts afresh).

    A day moves the clock some 500 times; through requests each move cost twice what the server spends on it (the
    session merges proxies, netrc and CA bundles from the environment on every call, for a loopback host that none
    of them applies to), and through http.client still more than the move itself (its header parser is the email
    package's). serve-sim is on this machine (is_simulator asks only a loopback host), so the short way is safe."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        split = urlsplit(base_url)  # serve-sim speaks plain HTTP
        host, port = split.hostname or "127.0.0.1", split.port or 80
        self._conn = LoopbackConnection(host, port, timeout)
        self._prefix = split.path.rstrip("/")
        fixed = {"Host": host_header(host, port), "Accept-Encoding": "identity", **headers}
        fixed["Accept"] = "application/json"
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON of a 2xx answer; an OSError, http.client.HTTPException or ValueError otherwise."""
        head = f"{method} {self._prefix}{path} HTTP/1.1\r\n{self._head}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            head += f"Content-Length: {len(data)}\r\nContent-Type: application/json\r\n"
        elif method in ("POST", "PUT", "PATCH"):
            head += "Content-Length: 0\r\n"
        answer = self._conn.exchange(f"{head}\r\n".encode("latin-1"), data, method)
        if not 200 <= answer.status < 300:
            raise ValueError(f"{method} {path} answered {answer.status}")
        return json.loads(answer.body)


class RemoteSimClock:
    """Market time of a serve-sim server: sleeping asks the server to advance its clock instead of waiting.

    A streamed run's sleep that waits for `events` asks the server to stop at the first moment its streams
    publish something (the simulated market's "an event arrived"); after every move the streams are given
    time to bring what was published up to it (`settle`), so the next step sees all of it, as on the wall.
    """

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        self._link = _Link(base_url, headers, timeout)
        self.info = self._link.call("GET", "/sim/info")
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
                answer = self._link.call("POST", "/sim/advance", body)
                self._now = datetime.fromisoformat(answer["now"])
                break
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
                last = exc
        else:
            raise BrokerError(f"POST /sim/advance failed {ATTEMPTS} times: {type(last).__name__}", transient=True)
        if self.settle is not None and answer.get("streams"):
            self.settle(answer["streams"])


def is_loopback(url: str | None) -> bool:
    """The URL names this machine (None, Alpaca's own host, does not)."""
    return bool(url) and (urlsplit(url or "").hostname or "") in LOOPBACK_HOSTS


def is_simulator(base_url: str, timeout: float, attempts: int = 3) -> bool:
    """True when the endpoint is zdte's serve-sim: a loopback host that answers GET /sim/info (no keys needed).

    Only a loopback endpoint is asked, and one that does not answer at all is an error, not a silent
    fall-back to the wall clock (which would leave a simulated session waiting in real time).
    """
    if not is_loopback(base_url):
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
