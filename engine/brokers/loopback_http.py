"""Plain HTTP/1.1 to serve-sim on this machine, for a loopback day: what the Alpaca clients and the simulated clock
send when, and only when, the composition root has found serve-sim on 127.0.0.1 (engine/app.py).

Why: a polled day over loopback makes some 1,300 REST calls and 500 clock moves, and through requests each call
cost the engine several times what serve-sim spends answering it: the session merges settings, cookies and the
environment, prepares and re-parses the URL, and urllib3 and http.client (whose header parser is the email
package's) wrap a few socket calls in many layers. `LoopbackSession` is a requests.Session (alpaca-py's clients keep
theirs, and against Alpaca nothing changes: they get the plain `requests` one) whose calls to a loopback host skip
that: the request is prepared as requests prepares it (the same URL, headers and body; the tests compare them), sent
on a kept-alive connection of `LoopbackConnection`, and answered as a requests.Response; its failures are requests'
own exceptions (ConnectionError, ConnectTimeout, ReadTimeout), so the adapter's retry policy sees what it saw.
Anything else (another host, https, cookies, auth, hooks, redirects followed, a streamed body) is left to requests.
"""

from __future__ import annotations

import datetime as dt
import http.client
import select
import socket
import time
from collections import deque
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LEAN_KEYWORDS = frozenset({"params", "headers", "json", "allow_redirects", "timeout"})
"""What alpaca-py passes Session.request; a call with any other keyword (data, cookies, auth, proxies, stream,
verify, ...) is requests' own."""
MAX_LINE = 65536
"""http.client's limit on a status or header line."""
MAX_HEADERS = 100
"""http.client's limit on the number of header lines."""


class ConnectFailed(OSError):
    """The connection could not be opened (its cause says why): requests calls it a connect error, not a read's."""


class Answer:
    """A response as read off the wire: status, reason, headers (in order, repeats kept) and the whole body."""

    __slots__ = ("body", "headers", "reason", "status", "will_close")

    def __init__(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, will_close: bool
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.will_close = will_close


class LoopbackConnection:
    """One kept-alive HTTP/1.1 connection to a plain-HTTP server on this machine (Nagle off, as urllib3's are).

    The request goes out in one send; the answer is read by its Content-Length (or to the connection's end). A
    connection the server has closed since its last answer is noticed before it is used, as urllib3 notices it,
    and opened afresh; any failure closes it, so the next call starts clean. Errors are the socket's (OSError,
    TimeoutError) and http.client's (RemoteDisconnected, BadStatusLine, LineTooLong, IncompleteRead)."""

    def __init__(self, host: str, port: int, timeout: float | None) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"{host} is not this machine: a loopback connection is for serve-sim only")
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._rfile: Any = None

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if self._rfile is not None:
            self._rfile.close()
            self._rfile = None
        if sock is not None:
            sock.close()

    def _open(self, connect_timeout: float | None) -> socket.socket:
        if self._sock is not None:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if not readable:
                return self._sock
            self.close()  # closed by the server (or it sent what nobody asked for): a fresh one
        try:
            sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._rfile = sock, sock.makefile("rb")
        return sock

    def exchange(self, head: bytes, body: bytes | None, method: str, timeout: Any = None) -> Answer:
        """Send a request (its head ends with the blank line) and read the answer. `timeout`: seconds for the
        connect and for each read, or a (connect, read) pair as requests takes it; None: the connection's."""
        if timeout is None:
            timeout = self.timeout
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        try:
            sock = self._open(connect_timeout)
            sock.settimeout(read_timeout)
            sock.sendall(head + body if body else head)
            answer = self._read(method)
        except BaseException:
            self.close()
            raise
        if answer.will_close:
            self.close()
        return answer

    def _line(self) -> bytes:
        line: bytes = self._rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        return line

    def _read(self, method: str) -> Answer:
        line = self._line()
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise http.client.BadStatusLine(line.decode("iso-8859-1", "replace"))
        status = int(code)
        headers: list[tuple[str, str]] = []
        for _ in range(MAX_HEADERS + 1):
            raw = self._line()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = raw.decode("iso-8859-1").partition(":")
            if colon:
                headers.append((name.strip(), value.strip()))
        else:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        fields = {name.lower(): value for name, value in headers}
        will_close = fields.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if "chunked" in fields.get("transfer-encoding", "").lower():
            raise http.client.HTTPException("a chunked answer: serve-sim always sends a Content-Length")
        if fields.get("content-encoding", "identity").lower() != "identity":
            raise http.client.HTTPException("an encoded answer: serve-sim never compresses")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "content-length" in fields:
            length = int(fields["content-length"])
            body = self._rfile.read(length)
            if len(body) < length:
                raise http.client.IncompleteRead(body, length - len(body))
        else:
            body = self._rfile.read()
            will_close = True
        return Answer(status, reason.strip(), headers, body, will_close)


@lru_cache(maxsize=256)
def loopback_origin(url: str) -> tuple[str, int, str, str] | None:
    """(host, port, request target, the URL as requests prepares it) of a plain-http URL on this machine, or None
    (another host, https, a query or fragment already in it: requests' business). Cached: a client calls few URLs."""
    if not url.startswith("http://"):
        return None
    split = urlsplit(url)
    host = split.hostname or ""
    if host not in LOOPBACK_HOSTS or split.query or split.fragment or "?" in url or "#" in url:
        return None
    try:
        port = split.port or 80
    except ValueError:
        return None
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    prepared_url = str(prepared.url)
    target = prepared_url[len("http://") + len(urlsplit(prepared_url).netloc) :] or "/"
    return host, port, target, prepared_url


def _latin1(value: str | bytes | int) -> bytes:
    """A header's name or value as http.client puts it on the wire."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return str(value).encode("ascii")
    return value.encode("latin-1")


def host_header(host: str, port: int) -> str:
    """The Host header's value as http.client writes it: the port only when not 80, an IPv6 address bracketed."""
    name = f"[{host}]" if ":" in host else host
    return name if port == 80 else f"{name}:{port}"


def encode_params(params: Mapping[str, Any] | None) -> str:
    """A query string as requests encodes a dict of parameters (None values dropped, a list one value each).
    Parameters of hashable values are encoded once: a day asks the same option snapshots hundreds of times."""
    if not params:
        return ""
    try:  # the types are part of the key: 1, 1.0 and True are equal keys but "1", "1.0" and "True" in a query
        return _encode_items(tuple((key, type(value), value) for key, value in params.items()))
    except TypeError:  # a list (or another unhashable value) among them
        return _encode(params.items())


@lru_cache(maxsize=512)
def _encode_items(items: tuple[tuple[Any, type, Any], ...]) -> str:
    return _encode((key, value) for key, _, value in items)


def _encode(items: Iterable[tuple[Any, Any]]) -> str:
    pairs: list[tuple[Any, Any]] = []
    for key, values in items:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        for value in values:
            if value is not None:
                pairs.append(
                    (key.encode("utf-8") if isinstance(key, str) else key,
                     value.encode("utf-8") if isinstance(value, str) else value)
                )
    return urlencode(pairs, doseq=True)


class LoopbackSession(requests.Session):
    """A requests session whose calls to serve-sim on this machine take the short way (see the module's docstring);
    every other call is requests' own. Every call has a timeout (alpaca-py passes none), as _TimeoutSession's."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout
        self.trust_env = False  # nothing of the environment is for serve-sim; a call elsewhere reads none of it
        self._idle: dict[tuple[str, int], deque[LoopbackConnection]] = {}
        self._heads: dict[tuple[Any, ...], tuple[CaseInsensitiveDict[Any], bytes]] = {}
        self.lean_calls = 0
        """How many calls took the short way (the tests read it)."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Session.request's keywords (as _TimeoutSession takes them); the short way for the calls alpaca-py makes to
        serve-sim: parameters or a JSON body, its headers, no redirect followed, nothing else asked of requests."""
        kwargs.setdefault("timeout", self._timeout)
        origin = loopback_origin(url) if isinstance(url, str) else None
        params, headers = kwargs.get("params"), kwargs.get("headers")
        plain = (
            origin is not None
            and kwargs.keys() <= LEAN_KEYWORDS
            and kwargs.get("allow_redirects") is False  # alpaca-py never follows one; requests would
            and (params is None or isinstance(params, dict))
            and (headers is None or isinstance(headers, dict))
            and not self.params
            and self.auth is None
            and not self.cookies
            and not any(self.hooks.values())
        )
        if not plain:
            return super().request(method, url, **kwargs)
        assert origin is not None
        return self._lean(method.upper(), origin, params, headers, kwargs.get("json"), kwargs["timeout"])

    def prepare_lean(
        self, method: str, url: str, params: dict[str, Any] | None, headers: dict[str, Any] | None, json: Any
    ) -> requests.PreparedRequest:
        """The request as Session.prepare_request would prepare it for serve-sim (no cookies, auth or hooks)."""
        origin = loopback_origin(url)
        if origin is None:
            raise ValueError(f"{url} is not a plain-http URL on this machine")
        return self._prepare(method.upper(), origin[3], params, headers, json)[0]

    def _prepare(
        self, method: str, base: str, params: dict[str, Any] | None, headers: dict[str, Any] | None, json: Any
    ) -> tuple[requests.PreparedRequest, bytes]:
        """The prepared request and its headers as sent. A call without a body has the headers of the last one of
        its method and headers (alpaca-py sends the same every time), so they are merged and checked once."""
        prepared = requests.PreparedRequest()  # its hooks are requests' defaults (none), as prepare_hooks leaves them
        prepared.method = method
        query = encode_params(params)
        prepared.url = f"{base}?{query}" if query else base
        key: tuple[Any, ...] | None = None
        if json is None:
            key = (method, tuple(self.headers.items()), tuple(headers.items()) if headers else ())
            try:
                cached = self._heads.get(key)
            except TypeError:  # an unhashable header value: merged afresh
                key = cached = None
            if cached is not None:
                prepared.headers = cached[0].copy()
                return prepared, cached[1]
        merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(self.headers)
        if headers:
            merged.update(headers)
        for name in [k for k, v in merged.items() if v is None]:
            del merged[name]
        prepared.prepare_headers(merged)
        prepared.prepare_body(None, None, json)
        wire = b"".join(b"%s: %s\r\n" % (_latin1(name), _latin1(value)) for name, value in prepared.headers.items())
        if key is not None:
            if len(self._heads) >= 64:
                self._heads.clear()
            self._heads[key] = (prepared.headers.copy(), wire)
        return prepared, wire

    def _lean(
        self, method: str, origin: tuple[str, int, str, str], params: Any, headers: Any, json: Any, timeout: Any
    ) -> requests.Response:
        host, port, target, base = origin
        prepared, wire = self._prepare(method, base, params, headers, json)
        url = str(prepared.url)
        path = target + url[len(base) :]
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
            method.encode("latin-1"), path.encode("latin-1"), host_header(host, port).encode("latin-1"), wire
        )
        body = prepared.body  # the lean path sends no data: JSON (bytes) or nothing
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None and not isinstance(body, bytes):
            raise TypeError(f"a loopback call's body is bytes, not {type(body).__name__}")
        pool = self._idle.setdefault((host, port), deque())
        try:
            conn = pool.pop()
        except IndexError:
            conn = LoopbackConnection(host, port, self._timeout)
        self.lean_calls += 1
        started = time.perf_counter()
        try:
            answer = conn.exchange(head, body, method, timeout)
        except ConnectFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, TimeoutError):
                raise requests.ConnectTimeout(cause, request=prepared) from exc
            raise requests.ConnectionError(exc, request=prepared) from exc
        except TimeoutError as exc:
            raise requests.ReadTimeout(exc, request=prepared) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise requests.ConnectionError(("Connection aborted.", exc), request=prepared) from exc
        pool.append(conn)
        return self._response(prepared, answer, time.perf_counter() - started)

    @staticmethod
    def _response(prepared: requests.PreparedRequest, answer: Answer, elapsed: float) -> requests.Response:
        """The answer as requests' HTTPAdapter.build_response and Session.send leave it (the body already read)."""
        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        fields: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in answer.headers:
            fields[name] = f"{fields[name]}, {value}" if name in fields else value  # as urllib3 joins repeats
        response.headers = fields
        response.encoding = get_encoding_from_headers(fields)
        response._content = answer.body
        response._content_consumed = True
        response.url = str(prepared.url)
        response.request = prepared
        response.elapsed = dt.timedelta(seconds=elapsed)
        return response

    def close(self) -> None:
        for pool in self._idle.values():
            while pool:
                pool.pop().close()
        super().close()

