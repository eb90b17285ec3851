"""The short way of the Alpaca clients to serve-sim on this machine (engine/brokers/loopback_http.py): taken only for a
plain-http loopback URL and only when the composition root found serve-sim; it prepares what requests prepares,
sends the keys and the timeout with every call, keeps its connection alive, and fails as requests fails, so the
adapter's retries and errors are what they were. Every address here is 127.0.0.1 (an Alpaca URL is only named:
requests' own send is replaced before it could connect)."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError

from engine.brokers.alpaca import RetryPolicy, _TimeoutSession, alpaca_adapters, classify
from engine.brokers.loopback_http import LoopbackConnection, LoopbackSession, encode_params, loopback_origin
from engine.clock import WallClock
from engine.config import AlpacaConfig
from engine.errors import BrokerError, OrderRejected

ALPACA_URLS = (
    "https://paper-api.alpaca.markets/v2/account",
    "https://data.alpaca.markets/v2/stocks/bars",
    "http://paper-api.alpaca.markets/v2/account",
    "https://127.0.0.1:8443/v2/account",  # https: requests' business
    "http://127.0.0.1.example.com/v2/account",
    "http://127.0.0.1:80@paper-api.alpaca.markets/v2/account",  # the host is the one after the @
    "http://127.0.0.1:5000/v2/orders?status=all",  # a query already in the URL
)
HEADERS = {"APCA-API-KEY-ID": "brokers-test-key", "APCA-API-SECRET-KEY": "brokers-test-secret", "User-Agent": "APCA-PY"}


def _session(timeout: float = 2.0) -> LoopbackSession:
    return LoopbackSession(timeout)


@pytest.mark.parametrize("url", ALPACA_URLS)
def test_a_url_not_plain_http_on_this_machine_is_left_to_requests(url, monkeypatch) -> None:
    assert loopback_origin(url) is None
    sent: list[requests.PreparedRequest] = []

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        sent.append(request)
        raise requests.ConnectionError("not sent: the test stops requests here")

    monkeypatch.setattr(requests.Session, "send", send)
    session = _session()
    with pytest.raises(requests.ConnectionError, match="not sent"):
        session.request("GET", url, params={"a": "1"}, headers=dict(HEADERS), allow_redirects=False)
    assert session.lean_calls == 0 and len(sent) == 1
    assert sent[0].headers["APCA-API-KEY-ID"] == HEADERS["APCA-API-KEY-ID"]


def test_the_clients_take_the_short_way_only_when_told_their_endpoint_is_serve_sim() -> None:
    cfg = AlpacaConfig(trading_url="http://127.0.0.1:9", data_url="http://127.0.0.1:9")
    keys = {"ALPACA_API_KEY": "PKTEST", "ALPACA_SECRET_KEY": "secret"}
    for loopback, kind in ((False, _TimeoutSession), (True, LoopbackSession)):
        broker, data = alpaca_adapters(cfg, keys, WallClock(), loopback=loopback)
        sessions = [broker._tc._session, data._stocks._session, data._options._session]
        assert all(type(s) is kind for s in sessions), (loopback, sessions)
        assert all(s._timeout == cfg.timeout_s for s in sessions)
    broker, data = alpaca_adapters(AlpacaConfig(), keys, WallClock())  # Alpaca's own URLs
    assert type(broker._tc._session) is _TimeoutSession and type(data._options._session) is _TimeoutSession


CALLS = (
    ("GET", "/v2/account", None, None),
    ("GET", "/v2/orders", {"status": "open", "nested": True, "limit": 500, "after": None}, None),
    ("GET", "/v1beta1/options/snapshots", {"symbols": "SPY250701C00600000,SPY250701P00590000", "feed": "opra"}, None),
    ("GET", "/v2/stocks/bars", {"symbols": ["SPY", "QQQ"], "start": "2025-07-01T09:30:00-04:00", "x": "a&b=/é"}, None),
    ("GET", "/v1beta1/options/snapshots/SPY", {}, None),
    ("POST", "/v2/orders", None, {"qty": "1", "legs": [{"symbol": "SPY250701C00600000"}], "limit_price": 1.25}),
    ("DELETE", "/v2/orders/9d2ca2f0-2a5e-4a8e-9c3e-0f3e3b1c2d4e", None, None),
    ("GET", "/v2/orders:by_client_order_id", {"client_order_id": "zdte-1"}, None),
)


@pytest.mark.parametrize(("method", "path", "params", "body"), CALLS)
def test_a_call_is_prepared_as_requests_prepares_it(method, path, params, body) -> None:
    url = "http://127.0.0.1:5000/v2" + path if not path.startswith("/v2") else "http://127.0.0.1:5000" + path
    plain = requests.Session()
    plain.trust_env = False
    want = plain.prepare_request(requests.Request(method, url, params=params, json=body, headers=dict(HEADERS)))
    session = _session()
    first = session.prepare_lean(method, url, params, dict(HEADERS), body)
    first.headers["X-Changed"] = "by whoever holds the first"  # must not leak into the next call's headers
    again = session.prepare_lean(method, url, params, dict(HEADERS), body)  # the headers merged once, reused
    for got in (first, again):
        assert (got.method, got.url, got.body) == (want.method, want.url, want.body)
    assert list(again.headers.items()) == list(want.headers.items())
    session.headers["User-Agent"] = "changed"  # a change of the session's headers is seen at once
    plain.headers["User-Agent"] = "changed"
    other = {"APCA-API-KEY-ID": "other"}
    changed = session.prepare_lean(method, url, params, other, body)
    want = plain.prepare_request(requests.Request(method, url, params=params, json=body, headers=other))
    assert list(changed.headers.items()) == list(want.headers.items())


def test_parameters_are_encoded_as_requests_encodes_them() -> None:
    params = {"b": [1, None, "x y"], "a": None, "c": b"raw", "d": "ä/?&="}
    assert encode_params(params) == requests.models.RequestEncodingMixin._encode_params(params)
    assert encode_params(None) == encode_params({}) == ""
    equal_keys = [{"limit": 1}, {"limit": True}, {"limit": 1.0}, {"limit": "1"}]  # equal as keys, not as text
    assert [encode_params(p) for p in equal_keys] == ["limit=1", "limit=True", "limit=1.0", "limit=1"]
    encode = requests.models.RequestEncodingMixin._encode_params
    assert [encode_params(p) for p in equal_keys] == [encode(p) for p in equal_keys]


def test_the_keys_and_headers_reach_the_server_as_through_requests(stub) -> None:
    stub.route("GET /v2/account", (200, {"ok": True}))
    plain = _TimeoutSession(2.0)
    plain.trust_env = False
    lean = _session()
    for session in (plain, lean):
        r = session.request(
            "GET", stub.url + "/v2/account", params={"q": "1"}, headers=dict(HEADERS), allow_redirects=False
        )
        assert r.status_code == 200 and r.json() == {"ok": True} and r.text == '{"ok": true}'
    assert lean.lean_calls == 1
    via_requests, via_lean = stub.requests_to("/v2/account")
    assert via_lean.headers == via_requests.headers
    assert via_lean.query == via_requests.query == {"q": "1"}


def test_a_posted_json_body_arrives_whole(stub) -> None:
    stub.route("POST /v2/orders", lambda seen: (200, {"echo": seen.body}))
    body = {"qty": "1", "symbol": "SPY250701C00600000", "note": "é"}
    r = _session().request("POST", stub.url + "/v2/orders", json=body, headers=dict(HEADERS), allow_redirects=False)
    assert r.json() == {"echo": body}
    (seen,) = stub.requests_to("/v2/orders")
    assert seen.headers["Content-Type"] == "application/json"


def test_an_error_answer_is_requests_own_for_alpaca_py(stub) -> None:
    """alpaca-py reads raise_for_status's HTTPError, the status and the headers (Retry-After) off the response."""
    stub.route("GET /v2/orders", (429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": "3"}))
    r = _session().request("GET", stub.url + "/v2/orders", headers=dict(HEADERS), allow_redirects=False)
    with pytest.raises(requests.HTTPError) as raised:
        r.raise_for_status()
    assert str(raised.value).startswith("429 Client Error: Too Many Requests for url: http://127.0.0.1:")
    error = APIError(r.text, raised.value)
    assert error.status_code == 429 and error.response.headers["retry-after"] == "3"
    assert RetryPolicy(WallClock(), 3).delay(0, error) == 3.0
    assert classify("GET /v2/orders", error).transient


def test_an_order_refusal_through_the_real_client_is_still_a_rejection(stub, adapters_for) -> None:
    stub.route("GET /sim/info", (200, {"simulator": True, "now": "2025-07-01T10:00:00-04:00", "streams": None}))
    oid = "9d2ca2f0-2a5e-4a8e-9c3e-0f3e3b1c2d4e"
    stub.route(f"GET /v2/orders/{oid}", (422, {"code": 40010001, "message": "no such order"}))
    alpaca = adapters_for(stub.url)
    assert type(alpaca.broker._tc._session) is LoopbackSession
    with pytest.raises(OrderRejected, match="HTTP 422: no such order"):
        alpaca.broker.get_order(oid)
    assert alpaca.broker._tc._session.lean_calls == 1


def test_a_slow_answer_times_out_as_requests_times_out(stub) -> None:
    def slow(seen: Any) -> tuple[int, Any]:
        time.sleep(0.5)
        return 200, {}

    stub.route("GET /v2/account", slow)
    session = _session(timeout=0.1)
    with pytest.raises(requests.ReadTimeout):
        session.request("GET", stub.url + "/v2/account", headers=dict(HEADERS), allow_redirects=False)
    err = classify("GET /v2/account", requests.ReadTimeout())
    assert err.transient and "timed out (ReadTimeout)" in str(err)
    stub.route("GET /v2/account", (200, {"ok": 1}))
    time.sleep(0.5)
    r = session.request("GET", stub.url + "/v2/account", headers=dict(HEADERS), allow_redirects=False)
    assert r.json() == {"ok": 1}, "the timed-out connection was dropped, the next call opened a fresh one"


def test_nobody_listening_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(requests.ConnectionError) as raised:
        _session().request("GET", f"http://127.0.0.1:{port}/v2/account", headers=dict(HEADERS), allow_redirects=False)
    assert not isinstance(raised.value, requests.Timeout)
    err = classify("GET /v2/account", raised.value)
    assert err.transient and "connection failed (ConnectionError)" in str(err)


def test_a_dropped_connection_is_a_transient_error_and_retried(make_sim, adapters_for) -> None:
    server = make_sim(fault_rate=1.0, fault_kinds=["drop"])
    alpaca = adapters_for(server.url, max_retries=2)
    assert type(alpaca.broker._tc._session) is LoopbackSession
    with pytest.raises(BrokerError, match="connection failed \\(ConnectionError\\)") as raised:
        alpaca.broker.positions()
    assert raised.value.transient
    assert server.request_counts["GET /v2/positions"] == 3, "tried once and retried twice, as through requests"
    server.fault_rate = 0.0
    assert alpaca.broker.positions() == []


def test_calls_share_one_kept_alive_connection_which_survives_the_server_cutting_it(make_sim, adapters_for) -> None:
    server = make_sim()
    httpd = server._httpd
    accepted: list[int] = []
    process = httpd.process_request
    httpd.process_request = lambda request, address: (accepted.append(1), process(request, address))[1]
    alpaca = adapters_for(server.url)
    accepted.clear()  # the probe's and the clock's connections
    for _ in range(5):
        alpaca.broker.account()
    assert len(accepted) == 1
    httpd.close_connections()
    time.sleep(0.05)
    alpaca.broker.account()  # noticed as closed before it was used: no error, no retry
    assert len(accepted) == 2 and alpaca.broker._retry.retries == 0


def test_a_loopback_connection_is_for_this_machine_only() -> None:
    with pytest.raises(ValueError, match="not this machine"):
        LoopbackConnection("paper-api.alpaca.markets", 443, 1.0)


@pytest.mark.parametrize(
    "extra",
    [{"data": "a=1"}, {"stream": True}, {"cookies": {"c": "1"}}, {"verify": False}, {}],
    ids=["data", "stream", "cookies", "verify", "redirects-followed"],
)
def test_a_call_asking_more_of_requests_is_requests_own(extra, monkeypatch) -> None:
    seen: list[dict[str, Any]] = []

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        seen.append(kwargs)
        raise requests.ConnectionError("not sent: the test stops requests here")

    monkeypatch.setattr(requests.Session, "send", send)
    session = _session(timeout=3.5)
    redirects = {} if not extra else {"allow_redirects": False}
    with pytest.raises(requests.ConnectionError, match="not sent"):
        session.request("GET", "http://127.0.0.1:9/v2/account", headers=dict(HEADERS), **redirects, **extra)
    assert session.lean_calls == 0 and seen[0]["timeout"] == 3.5, "the session's timeout, as _TimeoutSession's"


def test_a_call_of_its_own_timeout_keeps_it(stub) -> None:
    def slow(seen: Any) -> tuple[int, Any]:
        time.sleep(0.4)
        return 200, {}

    stub.route("GET /v2/account", slow)
    with pytest.raises(requests.ReadTimeout):
        _session(timeout=30).request(
            "GET", stub.url + "/v2/account", headers=dict(HEADERS), allow_redirects=False, timeout=0.1
        )
