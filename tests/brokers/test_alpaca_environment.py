"""What the Alpaca clients take from the environment (proxies, netrc credentials, CA bundles): all of it, as requests
does, against Alpaca; none of it against serve-sim on loopback, which none of it is for and which pays for reading
it on every request. Seen here through a netrc entry for 127.0.0.1, which requests turns into an Authorization
header on each request to that host when it reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.app import alpaca
from engine.brokers.serve_sim_clock import RemoteSimClock
from engine.clock import WallClock
from engine.config import parse_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def _adapters(url: str, tmp: Path, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    netrc = tmp / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n", encoding="utf-8")
    monkeypatch.setenv("NETRC", str(netrc))
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp)  # no .env of the checkout
    raw = yaml.safe_load((REPO_ROOT / "examples" / "loopback.yaml").read_text(encoding="utf-8"))
    raw["data"]["source"] = "poll"
    raw["alpaca"].update(trading_url=url, data_url=url, timeout_s=2.0)
    return alpaca(parse_config(raw, "environment test"))


def _asked_orders(stub: Any, adapters: Any) -> dict[str, str]:
    stub.route("GET /v2/orders", (200, []))
    assert adapters.broker.open_orders() == []
    (seen,) = stub.requests_to("/v2/orders")
    return {k.lower(): v for k, v in seen.headers.items()}


def test_against_alpaca_the_clients_read_the_environment(stub, tmp_path, keys, monkeypatch) -> None:
    adapters = _adapters(stub.url, tmp_path, keys, monkeypatch)  # /sim/info answers 404: not serve-sim
    assert isinstance(adapters.clock, WallClock)
    assert _asked_orders(stub, adapters)["authorization"].startswith("Basic "), "the netrc entry, as requests reads it"


def test_against_serve_sim_the_clients_do_not_read_the_environment(stub, tmp_path, keys, monkeypatch) -> None:
    stub.route("GET /sim/info", (200, {"simulator": True, "now": "2025-07-01T09:00:00-04:00", "streams": None}))
    adapters = _adapters(stub.url, tmp_path, keys, monkeypatch)
    assert isinstance(adapters.clock, RemoteSimClock)
    headers = _asked_orders(stub, adapters)
    assert "authorization" not in headers
    assert headers["apca-api-key-id"] == keys["ALPACA_API_KEY"], "the keys still go with every request"
