"""serve-sim's clock as the engine sees it (RemoteSimClock): each sleep is one POST /sim/advance on a connection
kept alive across the day, which survives the server cutting it and fails, transient, when the server is gone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.brokers.serve_sim_clock import ATTEMPTS, RemoteSimClock
from engine.errors import BrokerError

HEADERS = {"APCA-API-KEY-ID": "brokers-test-key", "APCA-API-SECRET-KEY": "brokers-test-secret"}


def _accepted(server: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the TCP connections the server accepts from now on."""
    httpd = server._httpd
    accepted: list[int] = []
    process = httpd.process_request

    def counting(request: Any, client_address: Any) -> None:
        accepted.append(1)
        process(request, client_address)

    monkeypatch.setattr(httpd, "process_request", counting)
    return accepted


def test_a_day_of_clock_moves_keeps_one_connection(make_sim, monkeypatch) -> None:
    server = make_sim()
    accepted = _accepted(server, monkeypatch)
    clock = RemoteSimClock(server.url, HEADERS, 2.0)
    start = clock.now()
    for _ in range(20):
        clock.sleep(30)
    assert clock.now() - start == timedelta(minutes=10) == server.clock.now() - start
    assert server.request_counts["POST /sim/advance"] == 20
    assert len(accepted) == 1, "the info and the 20 moves went over one kept-alive connection"


def test_a_connection_the_server_cut_is_opened_again_and_the_clock_moves_once(make_sim) -> None:
    server = make_sim()
    clock = RemoteSimClock(server.url, HEADERS, 2.0)
    start = clock.now()
    clock.sleep(60)
    server._httpd.close_connections()  # as the server does to a connection idle past its timeout
    clock.sleep(60)
    assert clock.now() - start == timedelta(minutes=2) == server.clock.now() - start


def test_a_server_gone_is_a_transient_broker_error_after_every_attempt(make_sim) -> None:
    server = make_sim()
    clock = RemoteSimClock(server.url, HEADERS, 0.5)
    before = clock.now()
    server.stop()
    with pytest.raises(BrokerError, match=f"failed {ATTEMPTS} times") as caught:
        clock.sleep(60)
    assert caught.value.transient
    assert clock.now() == before, "a move the server never answered does not move the engine's time"
