"""The transport's injected faults: each kind is produced, seeded, never on /sim/*; "after" faults leave the order
placed."""

from __future__ import annotations

import contextlib
import time

import pytest
import requests
from alpaca.common.exceptions import APIError

from engine.sim.transport import FAULT_KINDS, SimServer


def test_rate_limit_has_retry_after_and_reset(make_sim) -> None:
    s = make_sim(fault_rate=1.0, fault_kinds=["rate_limit"])
    r = s.get("/v2/account")
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert int(r.headers["X-RateLimit-Reset"]) > 0 and r.headers["X-RateLimit-Remaining"] == "0"
    assert r.json() == {"code": 42910000, "message": "rate limit exceeded"}
    s.trading._retry = 0  # alpaca-py would otherwise sleep 3 s and retry a 429 three times
    with pytest.raises(APIError) as err:
        s.trading.get_clock()
    assert err.value.status_code == 429 and err.value.response.headers["Retry-After"] == "1"


@pytest.mark.parametrize(("kind", "status", "code"), [("server_error", 500, 50010000), ("unavailable", 503, 50310000)])
def test_server_errors_in_alpacas_form(make_sim, kind: str, status: int, code: int) -> None:
    s = make_sim(fault_rate=1.0, fault_kinds=[kind])
    with pytest.raises(APIError) as err:
        s.trading.get_account()
    assert err.value.status_code == status and err.value.code == code
    assert s.server.request_log[-1]["fault"] == kind and s.server.request_log[-1]["status"] == status


def test_slow_answer_exceeds_a_client_timeout(make_sim) -> None:
    s = make_sim(fault_rate=1.0, fault_kinds=["slow"], slow_seconds=0.3)
    with pytest.raises(requests.Timeout):
        s.get("/v2/clock", timeout=0.1)
    t0 = time.monotonic()
    r = s.get("/v2/clock", timeout=5)
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.3


def test_dropped_connection_is_a_connection_error(make_sim) -> None:
    s = make_sim(fault_rate=1.0, fault_kinds=["drop"])
    with pytest.raises(requests.ConnectionError):
        s.trading.get_account()
    entry = s.server.request_log[-1]
    assert entry["fault"] == "drop" and entry["status"] is None


def test_sim_paths_are_never_faulted(make_sim) -> None:
    s = make_sim(fault_rate=1.0)
    for _ in range(20):
        s.advance(1)
    assert s.get("/sim/info").status_code == 200
    assert all(e["fault"] is None for e in s.server.request_log)


def _faulted_order(make_sim, kind: str, **server):
    """A server faulting every eligible request with `kind`, at 10:00, and a marketable condor for it."""
    s = make_sim(fault_rate=0.0, fault_kinds=[kind], **server)
    s.at_least(10, 0)
    legs = s.condor()
    request = s.mleg(legs, s.natural(legs), f"{kind}-1")
    s.server.fault_rate = 1.0
    return s, request


@pytest.mark.parametrize("kind", ["drop_after", "server_error_after"])
def test_fault_after_the_order_was_accepted_leaves_it_at_the_exchange(make_sim, kind: str) -> None:
    s, request = _faulted_order(make_sim, kind)
    with pytest.raises((requests.ConnectionError, APIError)) as err:
        s.trading.submit_order(request)
    if kind == "drop_after":
        assert isinstance(err.value, requests.ConnectionError)
    else:
        assert err.value.status_code == 500
    # GETs are not eligible for "after" faults, so the look-up answers even at fault_rate 1.0
    found = s.trading.get_order_by_client_id(request.client_order_id)
    assert found.client_order_id == request.client_order_id
    assert len(s.trading.get_all_positions()) == 4  # the order filled: the naive resend would double it
    posts = [e for e in s.server.request_log if e["path"] == "/v2/orders" and e["method"] == "POST"]
    assert [(e["fault"], e["client_order_id"]) for e in posts] == [(kind, request.client_order_id)]


@pytest.mark.parametrize("kind", ["drop", "server_error"])
def test_fault_before_processing_leaves_no_order(make_sim, kind: str) -> None:
    s, request = _faulted_order(make_sim, kind)
    with pytest.raises((requests.ConnectionError, APIError)):
        s.trading.submit_order(request)
    s.server.fault_rate = 0.0
    with pytest.raises(APIError) as err:
        s.trading.get_order_by_client_id(request.client_order_id)
    assert err.value.status_code == 404


def test_faults_are_seeded_and_mixed(make_sim) -> None:
    def run(seed: int) -> list:
        s = make_sim(fault_rate=0.5, seed=seed, fault_kinds=["server_error", "unavailable", "drop"])
        for _ in range(40):
            with contextlib.suppress(requests.ConnectionError):
                s.get("/v2/clock")
        return [e["fault"] for e in s.server.request_log]

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert {"server_error", "unavailable", "drop", None} <= set(first)


def test_fault_settings_are_validated(sim) -> None:
    with pytest.raises(ValueError, match="fault_kinds"):
        SimServer(sim.server.venue, sim.server.clock, api_key="k", secret_key="s", fault_kinds=["meteor"])
    with pytest.raises(ValueError, match="fault_rate"):
        SimServer(sim.server.venue, sim.server.clock, api_key="k", secret_key="s", fault_rate=2.0)


# What each kind looks like to a client, as Alpaca (or the network) would show it: the answer's status (None: no
# answer, the connection dropped) and whether the order is at the exchange afterwards.
FAULT_EFFECTS = {
    "rate_limit": (429, False),
    "server_error": (500, False),
    "unavailable": (503, False),
    "slow": (200, True),
    "drop": (None, False),
    "server_error_after": (500, True),
    "drop_after": (None, True),
}


@pytest.mark.parametrize("kind", sorted(FAULT_KINDS))
def test_every_fault_kind_is_served_as_itself(make_sim, kind: str) -> None:
    assert kind in FAULT_EFFECTS, f"fault kind {kind} has no expected effect written down here"
    status, placed = FAULT_EFFECTS[kind]
    s, request = _faulted_order(make_sim, kind, slow_seconds=0.2)
    s.trading._retry = 0  # alpaca-py would otherwise sleep and retry a 429 itself
    with contextlib.suppress(requests.ConnectionError, APIError):
        s.trading.submit_order(request)
    s.server.fault_rate = 0.0
    [post] = [e for e in s.server.request_log if e["path"] == "/v2/orders" and e["method"] == "POST"]
    assert post["fault"] == kind and post["status"] == status
    at_exchange = s.server.venue.order_by_client_id(request.client_order_id) is not None
    assert at_exchange is placed


def test_stop_is_fast_and_cuts_pooled_connections(make_sim) -> None:
    s = make_sim()
    assert s.trading.get_clock().is_open is False  # the client now holds a keep-alive connection
    t0 = time.monotonic()
    s.server.stop()
    assert time.monotonic() - t0 < 1.0
    with pytest.raises(requests.ConnectionError):
        s.trading.get_clock()
