"""The clock of a serve-sim endpoint, and how to tell one apart: apart from the Alpaca adapter, which must
work the same against Alpaca and against serve-sim and so knows nothing of serve-sim's /sim/* paths.

The composition root asks `is_simulator` and hands the adapter the clock that fits: this one, whose sleep
moves the server's simulated time, or the wall clock.
"""

from __future__ import annotations

import http.client
import json
import socket
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


class _Connection(http.client.HTTPConnection):
    """Nagle's algorithm off, as on urllib3's connections: a small request is sent at once, never held back."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Link:
    """One kept-alive HTTP connection to serve-sim, on the standard library's client.

    A day moves the clock some 500 times; through requests each move cost twice what the server spends on it
    (the session merges proxies, netrc and CA bundles from the environment on every call, for a loopback host
    that none of them applies to). A failed call closes the connection, so the next one starts afresh."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        split = urlsplit(base_url)  # serve-sim speaks plain HTTP
        self._conn = _Connection(split.hostname or "127.0.0.1", split.port, timeout=timeout)
        self._prefix = split.path.rstrip("/")
        self._headers = {**headers, "Accept": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON of a 2xx answer; an OSError, http.client.HTTPException or ValueError otherwise."""
        headers = self._headers
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        try:
            self._conn.request(method, self._prefix + path, body=data, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()  # an answer that closes the connection has closed it: the next call reconnects
        except BaseException:
            self._conn.close()
            raise
        if not 200 <= response.status < 300:
            raise ValueError(f"{method} {path} answered {response.status}")
        return json.loads(raw)


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
